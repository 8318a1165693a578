// A resilient informer: client-node's ListWatch (list, then watch from the list's
// resourceVersion, keeping a cache) made to survive what a long-running operator meets.
// - ListWatch gives up after any error other than 410/timeouts; we restart it with exponential
//   backoff (1 s → 30 s), resuming from the last resourceVersion, or relisting when it has none.
// - 410 Gone (compacted resourceVersion) makes ListWatch relist by itself; the relist emits
//   deletes for objects that vanished meanwhile.
// - A watchdog restarts a list or watch that has shown no sign of life (event, bookmark,
//   reconnect) for longer than a threshold. We ask for bookmarks and a server-side timeout so
//   healthy watches keep talking.
// - Watch events carry raw JSON while typed list calls return model objects (Date fields);
//   `decode` turns watch objects into the same shape as listed ones, so the cache is uniform.
// - Several targets (one per watched namespace) form one informer: one cache, one event stream.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { describeError } from '../../observability/describe-error.ts';
import { createLogger, type Logger } from '../../observability/logger.ts';
import { statusCodeOf, toKubeError } from './api-errors.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import type { ChangeEvent, ChangeHandler, EventSource } from './event-source.ts';
import { backoffDelay } from './rate-limiter.ts';

/** One collection to list and watch. */
export interface ListTarget<T extends KubernetesObject> {
  /** Watch path, e.g. `/api/v1/namespaces/ns/pods`, or `/api/v1/pods` for all namespaces. */
  path: string;
  /** Lists the same collection with the same selectors as the watch. */
  list: () => Promise<KubernetesListObject<T>>;
  /** The namespace this target covers; undefined when it covers all of them. */
  namespace?: string;
}

/** The part of client-node's Watch the informer uses (replaceable in tests). */
export type WatchTransport = Pick<Watch, 'watch'>;

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** For logs, e.g. 'pods'. */
  name: string;
  kubeConfig: KubeConfig;
  targets: ReadonlyArray<ListTarget<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Turns the raw object of a watch event into the listed shape. Default: unchanged. */
  decode?: (raw: unknown) => T;
  clock?: Clock;
  /** Delay before restarting after an error: initialMs·2^n up to maxMs (default 1 s → 30 s). */
  restartBackoff?: { initialMs?: number; maxMs?: number };
  /** Restart a list/watch silent for longer than this (default 5 min). */
  watchdogSilenceMs?: number;
  /** Server-side watch timeout; default random in [5, 10) minutes as client-go's reflector. */
  watchTimeoutSeconds?: () => number;
  /** Transport replacing client-node's Watch (tests). */
  watch?: WatchTransport;
  logger?: Logger;
}

const DEFAULT_WATCHDOG_MS = 5 * 60_000;

export class ResilientInformer<T extends KubernetesObject> implements EventSource<T> {
  readonly name: string;
  private readonly targets: TargetInformer<T>[];
  private readonly handlers: Record<ChangeEvent, Set<ChangeHandler<T>>> = { add: new Set(), update: new Set(), delete: new Set() };
  private readonly syncWaiters = new Set<() => void>();
  private readonly logger: Logger;
  private started = false;

  constructor(options: ResilientInformerOptions<T>) {
    this.name = options.name;
    this.logger = (options.logger ?? createLogger({ component: 'informer' })).child({ informer: options.name });
    if (options.targets.length === 0) throw new Error(`informer ${options.name}: no targets`);
    this.targets = options.targets.map(
      (target) =>
        new TargetInformer(target, options, this.logger.child(target.namespace ? { namespace: target.namespace } : {}), {
          emit: (event, obj) => this.emit(event, obj),
          synced: () => this.onTargetSynced(),
        }),
    );
  }

  /** Starts listing and watching (returns at once; see waitForSync). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const t of this.targets) t.start();
  }

  /** Stops every list/watch and timer. The cache stays readable. */
  async stop(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.stop()));
  }

  on(event: ChangeEvent, handler: ChangeHandler<T>): void {
    this.handlers[event].add(handler);
  }

  off(event: ChangeEvent, handler: ChangeHandler<T>): void {
    this.handlers[event].delete(handler);
  }

  get(name: string, namespace?: string): T | undefined {
    for (const t of this.targets) {
      if (t.namespace === undefined || t.namespace === (namespace ?? '')) {
        const found = t.cache.get(name, namespace);
        if (found) return found;
      }
    }
    return undefined;
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.targets.filter((t) => !namespace || t.namespace === undefined || t.namespace === namespace).flatMap((t) => t.cache.list(namespace));
  }

  hasSynced(): boolean {
    return this.targets.every((t) => t.synced);
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.hasSynced()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.syncWaiters.delete(done);
        reject(new Error(`informer ${this.name}: aborted before sync`));
      };
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.add(done);
    });
  }

  /** Liveness: true, or why the list/watch loop looks wedged (silent well past the watchdog). */
  liveness(): true | string {
    for (const t of this.targets) {
      const reason = t.liveness();
      if (reason !== true) return `${this.name}: ${reason}`;
    }
    return true;
  }

  /** Restarts after errors and watchdog interventions so far (for tests and diagnostics). */
  restarts(): number {
    return this.targets.reduce((n, t) => n + t.restarts, 0);
  }

  private emit(event: ChangeEvent, obj: T): void {
    for (const handler of this.handlers[event]) {
      try {
        handler(obj);
      } catch (err) {
        this.logger.error('event handler failed', { event, err });
      }
    }
  }

  private onTargetSynced(): void {
    if (!this.hasSynced()) return;
    for (const done of [...this.syncWaiters]) done();
    this.syncWaiters.clear();
  }
}

type Phase = 'idle' | 'listing' | 'watching' | 'backoff' | 'stopped';

/** One ListWatch with its restart, watchdog and sync bookkeeping. */
class TargetInformer<T extends KubernetesObject> {
  readonly namespace: string | undefined;
  readonly cache: ListWatch<T>;
  private readonly path: string;
  synced = false;
  restarts = 0;
  private phase: Phase = 'idle';
  private lastActivityAt: number;
  private failures = 0;
  private restartTimer: TimerHandle | undefined;
  private watchdogTimer: TimerHandle | undefined;
  private listedOnce = false;
  private rejectList: ((err: Error) => void) | undefined;
  private readonly sleeps = new Map<TimerHandle, () => void>();
  private readonly tap: TapWatch;
  private readonly clock: Clock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly silenceMs: number;
  private readonly logger: Logger;
  private readonly sink: { emit: (event: ChangeEvent, obj: T) => void; synced: () => void };

  constructor(
    target: ListTarget<T>,
    options: ResilientInformerOptions<T>,
    logger: Logger,
    sink: { emit: (event: ChangeEvent, obj: T) => void; synced: () => void },
  ) {
    this.logger = logger;
    this.sink = sink;
    this.namespace = target.namespace;
    this.path = target.path;
    this.clock = options.clock ?? systemClock;
    this.initialBackoffMs = options.restartBackoff?.initialMs ?? 1000;
    this.maxBackoffMs = options.restartBackoff?.maxMs ?? 30_000;
    this.silenceMs = options.watchdogSilenceMs ?? DEFAULT_WATCHDOG_MS;
    this.lastActivityAt = this.clock.now();
    this.tap = new TapWatch(options.kubeConfig, options.watch ?? new Watch(options.kubeConfig), {
      decode: options.decode,
      timeoutSeconds: options.watchTimeoutSeconds ?? (() => Math.floor(300 * (1 + Math.random()))),
      onStart: () => this.onWatchStart(),
      onEvent: () => this.onWatchEvent(),
      onEnd: () => this.touch(),
    });
    const list = () => this.list(target);
    this.cache = new ListWatch<T>(target.path, this.tap, list, false, options.labelSelector, options.fieldSelector, {
      delayFn: (ms) => this.delay(ms),
    });
    this.cache.on('add', (obj: T) => sink.emit('add', obj));
    this.cache.on('update', (obj: T) => sink.emit('update', obj));
    this.cache.on('delete', (obj: T) => sink.emit('delete', obj));
    this.cache.on('error', (err?: unknown) => this.onError(err));
  }

  start(): void {
    if (this.phase !== 'idle') return;
    this.scheduleWatchdog();
    this.run();
  }

  async stop(): Promise<void> {
    this.phase = 'stopped';
    if (this.restartTimer) this.clock.clearTimeout(this.restartTimer);
    if (this.watchdogTimer) this.clock.clearTimeout(this.watchdogTimer);
    this.restartTimer = this.watchdogTimer = undefined;
    // ListWatch opens its next watch after a reconnect delay without checking whether it was
    // stopped meanwhile, and does not abort a watch still connecting: the tap refuses both.
    this.tap.close();
    for (const [handle, resolve] of this.sleeps) {
      this.clock.clearTimeout(handle);
      resolve();
    }
    this.sleeps.clear();
    this.rejectList?.(new Error('informer stopped'));
    await this.cache.stop();
  }

  liveness(): true | string {
    if (this.phase === 'stopped' || this.phase === 'idle' || this.phase === 'backoff') return true;
    const silent = this.clock.now() - this.lastActivityAt;
    // The watchdog acts at silenceMs; twice that means it could not recover the loop.
    return silent > 2 * this.silenceMs ? `${this.phase} silent for ${Math.round(silent / 1000)}s` : true;
  }

  /** ListWatch's reconnect delay, on our clock and cancelled by stop(). */
  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.clock.setTimeout(() => {
        this.sleeps.delete(handle);
        resolve();
      }, ms);
      this.sleeps.set(handle, resolve);
    });
  }

  private isStopped(): boolean {
    return this.phase === 'stopped';
  }

  private run(): void {
    this.touch();
    this.cache.start().catch((err: unknown) => this.onError(err));
  }

  private async list(target: ListTarget<T>): Promise<KubernetesListObject<T>> {
    this.phase = 'listing';
    this.touch();
    const result = await new Promise<KubernetesListObject<T>>((resolve, reject) => {
      this.rejectList = reject;
      target.list().then(resolve, reject);
    }).finally(() => (this.rejectList = undefined));
    if (this.isStopped()) throw new Error('informer stopped');
    this.listedOnce = true;
    this.failures = 0;
    this.touch();
    return result;
  }

  /** ListWatch calls watch() only after it has applied a successful list: the cache is complete. */
  private onWatchStart(): void {
    this.phase = 'watching';
    this.touch();
    if (this.listedOnce && !this.synced) {
      this.synced = true;
      this.logger.info('informer synced', { objects: this.cache.list().length });
      this.sink.synced();
    }
  }

  private onWatchEvent(): void {
    this.failures = 0;
    this.touch();
  }

  private onError(err: unknown): void {
    if (this.phase === 'stopped') return;
    if (this.restartTimer) return; // already scheduled
    const delay = backoffDelay(this.failures++, this.initialBackoffMs, this.maxBackoffMs);
    // An API answer (list refused, watch answered non-200) reads as the Kubernetes API error it is.
    const failure = statusCodeOf(err) === undefined ? err : toKubeError(err, `list/watch ${this.path}`);
    this.logger.warn('list/watch failed; restarting', { err: describeError(failure), delayMs: delay, failures: this.failures });
    this.phase = 'backoff';
    this.touch();
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.phase === 'stopped') return;
      this.restarts++;
      this.run();
    }, delay);
  }

  private scheduleWatchdog(): void {
    const every = Math.max(1, Math.min(this.silenceMs / 4, 30_000));
    this.watchdogTimer = this.clock.setTimeout(() => {
      if (this.phase === 'stopped') return;
      this.checkSilence();
      this.scheduleWatchdog();
    }, every);
  }

  private checkSilence(): void {
    const silent = this.clock.now() - this.lastActivityAt;
    if (silent <= this.silenceMs) return;
    if (this.phase === 'watching') {
      this.touch();
      if (this.tap.abortCurrent()) {
        this.logger.warn('watch silent; restarting it', { silentMs: silent });
        this.restarts++;
      }
    } else if (this.phase === 'listing' && this.rejectList) {
      this.logger.warn('list silent; restarting it', { silentMs: silent });
      this.touch();
      this.rejectList(new Error(`list silent for ${silent} ms`));
    }
  }

  private touch(): void {
    this.lastActivityAt = this.clock.now();
  }
}

interface TapHooks<T> {
  decode: ((raw: unknown) => T) | undefined;
  timeoutSeconds: () => number;
  onStart: () => void;
  onEvent: () => void;
  onEnd: () => void;
}

/**
 * Sits between ListWatch and the real Watch: asks for bookmarks and a server-side timeout,
 * decodes objects, reports activity, and lets the watchdog abort the current watch. A
 * watchdog abort reaches ListWatch as a TimeoutError, which makes it resume from its
 * resourceVersion at once (its own handling of silent watches).
 */
class TapWatch extends Watch {
  private current: { controller: AbortController | undefined; abortRequested: boolean } | undefined;
  private closed = false;
  private readonly inner: WatchTransport;
  private readonly hooks: TapHooks<unknown>;

  constructor(kubeConfig: KubeConfig, inner: WatchTransport, hooks: TapHooks<unknown>) {
    super(kubeConfig);
    this.inner = inner;
    this.hooks = hooks;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.closed) {
      done(null); // ListWatch sees its own stopped flag and goes no further
      const dead = new AbortController();
      dead.abort();
      return dead;
    }
    const call: { controller: AbortController | undefined; abortRequested: boolean } = { controller: undefined, abortRequested: false };
    this.current = call;
    this.hooks.onStart();
    const params = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: this.hooks.timeoutSeconds() };
    const decode = this.hooks.decode;
    const controller = await this.inner.watch(
      path,
      params,
      (phase, obj, raw) => {
        this.hooks.onEvent();
        const typed = decode && (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') ? decode(obj) : obj;
        callback(phase, typed, raw);
      },
      (err) => {
        if (this.current === call) this.current = undefined;
        this.hooks.onEnd();
        done(call.abortRequested ? watchdogTimeout() : err);
      },
    );
    call.controller = controller;
    if (this.closed) controller.abort();
    else if (call.abortRequested) controller.abort(watchdogTimeout());
    return controller;
  }

  /** Aborts the current watch and refuses new ones (the informer stopped). */
  close(): void {
    this.closed = true;
    this.current?.controller?.abort();
  }

  /** Aborts the open watch (ListWatch then resumes at once); false when none is open. */
  abortCurrent(): boolean {
    const call = this.current;
    if (!call) return false;
    call.abortRequested = true;
    call.controller?.abort(watchdogTimeout());
    return true;
  }
}

function watchdogTimeout(): Error {
  return new DOMException('watch silent past the watchdog threshold', 'TimeoutError');
}

