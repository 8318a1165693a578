// A controller in the controller-runtime mould: informer events only enqueue `namespace/name`
// keys (through mapping functions), and a bounded number of workers call reconcile(key).
// Reconcile is level-triggered: it reads the current state from the caches, so dropped or
// coalesced events are harmless. Errors requeue with per-key exponential backoff;
// `requeueAfterMs` schedules the next look (how rotation schedules poll the wall clock).
import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { createLogger, type Logger } from '../../observability/logger.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ControllerMetrics, ReconcileOutcome } from './controller-metrics.ts';
import type { ChangeEvent, ChangeHandler, EventSource } from './event-source.ts';
import { objectKey, parseKey } from './object-key.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { WorkQueue, type Priority } from './workqueue.ts';
import type { WorkqueueMetrics } from './workqueue-metrics.ts';

export interface ReconcileResult {
  /** Look at this key again after this many milliseconds (backoff is reset). */
  requeueAfterMs?: number;
  /**
   * That next look is only the periodic one (drift detection), nothing falls due: it waits
   * behind every change in the queue (low priority).
   */
  resync?: boolean;
  /** Look again after the key's rate-limited backoff. */
  requeue?: boolean;
}

export interface ReconcileContext {
  namespace: string;
  name: string;
  /** Child logger carrying controller, key and reconcileID. */
  logger: Logger;
  /** Consecutive failed attempts of this key so far. */
  retries: number;
}

export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult | void>;

/** Maps a changed object to the keys to reconcile (e.g. a Pod → the TicketKeySets selecting it). */
export type MapFunc<T> = (obj: T) => Iterable<string>;

/**
 * Which updates of a watched object are worth a reconcile (controller-runtime's predicates).
 * Adds and deletes always are. Skipping noise matters at scale: each skipped update is a
 * reconcile (a Secret read, every agent asked) the work queue does not wait behind.
 */
export interface WatchPredicates<T> {
  /**
   * What of the object the reconciler acts on: an update whose fingerprint equals the last one
   * seen for that object enqueues nothing (a TicketKeySet's status, written by the operator itself).
   */
  fingerprint?: (obj: T) => string;
  /** True for an update that enqueues nothing (the operator's own write, known by its resourceVersion). */
  ignoreUpdate?: (obj: T) => boolean;
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  /** Workers reconciling different keys at once (default 1, as controller-runtime). */
  maxConcurrentReconciles?: number;
  clock?: Clock;
  rateLimiter?: RateLimiter;
  metrics?: { workqueue?: WorkqueueMetrics; controller?: ControllerMetrics };
  logger?: Logger;
}

interface Watched {
  source: EventSource<KubernetesObject>;
  map: MapFunc<KubernetesObject>;
  /** Keys each source object mapped to last time, so an update that changes the mapping
   *  (a Pod relabelled out of a selector) also enqueues the keys it no longer maps to. */
  lastMapped: Map<string, string[]>;
  predicates: WatchPredicates<KubernetesObject>;
  /** Last fingerprint per object id (with predicates.fingerprint). */
  fingerprints: Map<string, string>;
  handlers?: Record<ChangeEvent, ChangeHandler<KubernetesObject>>;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcile: Reconciler;
  private readonly maxConcurrent: number;
  private readonly clock: Clock;
  private readonly metrics: ControllerMetrics | undefined;
  private readonly logger: Logger;
  private readonly watched: Watched[] = [];
  private readonly workers: Array<Promise<void>> = [];
  private active = 0;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private readonly stopSignal = new AbortController();

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.reconcile = options.reconcile;
    this.maxConcurrent = Math.max(1, options.maxConcurrentReconciles ?? 1);
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics?.controller;
    this.logger = (options.logger ?? createLogger({ component: 'controller' })).child({ controller: this.name });
    this.queue = new WorkQueue({
      name: this.name,
      clock: this.clock,
      ...(options.rateLimiter ? { rateLimiter: options.rateLimiter } : {}),
      ...(options.metrics?.workqueue ? { metrics: options.metrics.workqueue } : {}),
    });
    this.metrics?.initController(this.name, this.maxConcurrent);
  }

  /**
   * Enqueues map(obj) for every change of source the predicates let through. Handlers attach
   * when the controller starts.
   */
  watch<T extends KubernetesObject>(source: EventSource<T>, map: MapFunc<T>, predicates: WatchPredicates<T> = {}): this {
    const w: Watched = {
      source: source as EventSource<KubernetesObject>,
      map: map as MapFunc<KubernetesObject>,
      lastMapped: new Map(),
      predicates: predicates as WatchPredicates<KubernetesObject>,
      fingerprints: new Map(),
    };
    this.watched.push(w);
    if (this.state === 'running') this.attach(w);
    return this;
  }

  /**
   * Waits until every watched source has synced (reconciling against a partial cache could
   * mistake "not listed yet" for "gone"), enqueues every cached object, and starts the workers.
   * Resolves once the workers run; rejects if stop() is called first.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`controller ${this.name} already ${this.state}`);
    this.state = 'starting';
    await Promise.all(this.watched.map((w) => w.source.waitForSync(this.stopSignal.signal)));
    if (this.stopSignal.signal.aborted) throw new Error(`controller ${this.name} stopped before it started`);
    for (const w of this.watched) this.attach(w);
    this.state = 'running';
    for (let i = 0; i < this.maxConcurrent; i++) this.workers.push(this.runWorker());
    this.logger.info('controller started', { workers: this.maxConcurrent });
  }

  /** Detaches from the sources, lets in-flight and queued reconciles finish, stops the workers. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.stopSignal.abort();
    for (const w of this.watched) this.detach(w);
    await this.queue.shutdown();
    await Promise.all(this.workers);
    this.logger.info('controller stopped');
  }

  isRunning(): boolean {
    return this.state === 'running';
  }

  activeWorkers(): number {
    return this.active;
  }

  /** Milliseconds the longest reconcile in progress has been running (0 when idle). */
  longestRunningReconcileMs(): number {
    return this.queue.longestRunningMs();
  }

  private attach(w: Watched): void {
    const enqueueMapped = (obj: KubernetesObject, deleted: boolean, priority: Priority = 'normal') => {
      const id = objectKey(obj);
      let keys: string[];
      try {
        keys = [...w.map(obj)];
      } catch (err) {
        this.logger.error('mapping function failed', { object: id, err });
        keys = [];
      }
      const previous = w.lastMapped.get(id) ?? [];
      if (deleted) w.lastMapped.delete(id);
      else if (keys.length > 0) w.lastMapped.set(id, keys);
      else w.lastMapped.delete(id);
      for (const key of new Set([...previous, ...keys])) this.queue.add(key, priority);
    };
    const { fingerprint, ignoreUpdate } = w.predicates;
    /** Records obj's fingerprint; whether it differs from the last one (always, without a fingerprint). */
    const remember = (obj: KubernetesObject): boolean => {
      if (!fingerprint) return true;
      const id = objectKey(obj);
      const fp = this.fingerprintOf(fingerprint, obj);
      const changed = w.fingerprints.get(id) !== fp;
      w.fingerprints.set(id, fp);
      return changed;
    };
    w.handlers = {
      add: (obj) => {
        remember(obj);
        enqueueMapped(obj, false);
      },
      update: (obj) => {
        if (!remember(obj)) return;
        if (ignoreUpdate && this.ignored(ignoreUpdate, obj)) return;
        enqueueMapped(obj, false);
      },
      delete: (obj) => {
        w.fingerprints.delete(objectKey(obj));
        enqueueMapped(obj, true);
      },
    };
    for (const event of ['add', 'update', 'delete'] as const) w.source.on(event, w.handlers[event]);
    // Replay the cache, as a new informer handler sees every existing object as added: the
    // initial list, at low priority (what changes meanwhile goes first).
    for (const obj of w.source.list()) {
      remember(obj);
      enqueueMapped(obj, false, 'low');
    }
  }

  /** A predicate that throws lets the change through (a reconcile too many, never one too few). */
  private fingerprintOf(fingerprint: (obj: KubernetesObject) => string, obj: KubernetesObject): string {
    try {
      return fingerprint(obj);
    } catch (err) {
      this.logger.error('fingerprint predicate failed', { object: objectKey(obj), err });
      return `\0unfingerprinted:${randomUUID()}`;
    }
  }

  private ignored(ignoreUpdate: (obj: KubernetesObject) => boolean, obj: KubernetesObject): boolean {
    try {
      return ignoreUpdate(obj);
    } catch (err) {
      this.logger.error('update predicate failed', { object: objectKey(obj), err });
      return false;
    }
  }

  private detach(w: Watched): void {
    if (!w.handlers) return;
    for (const event of ['add', 'update', 'delete'] as const) w.source.off(event, w.handlers[event]);
    w.handlers = undefined;
  }

  private async runWorker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.active++;
      this.metrics?.activeWorkers.set({ controller: this.name }, this.active);
      try {
        await this.processKey(key);
      } finally {
        this.active--;
        this.metrics?.activeWorkers.set({ controller: this.name }, this.active);
        this.queue.done(key);
      }
    }
  }

  private async processKey(key: string): Promise<void> {
    const startedAt = this.clock.now();
    const logger = this.logger.child({ key, reconcileID: randomUUID() });
    let outcome: ReconcileOutcome;
    try {
      const { namespace, name } = parseKey(key);
      const result = (await this.reconcile(key, { namespace, name, logger, retries: this.queue.numRequeues(key) })) ?? {};
      if (result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfterMs, result.resync ? 'low' : 'normal');
        outcome = 'requeue_after';
      } else if (result.requeue) {
        this.queue.addRateLimited(key);
        outcome = 'requeue';
      } else {
        this.queue.forget(key);
        outcome = 'success';
      }
    } catch (err) {
      this.queue.addRateLimited(key);
      outcome = 'error';
      logger.error('reconcile failed', { err, retries: this.queue.numRequeues(key) });
    }
    this.metrics?.observe(this.name, outcome, Math.max(0, this.clock.now() - startedAt) / 1000);
  }
}
