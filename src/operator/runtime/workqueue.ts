// A rate-limited work queue with client-go semantics:
// - keys are deduplicated: adding a key already waiting is a no-op;
// - a key is never handed to two workers at once: a key added while it is being processed is
//   queued again when its worker calls done(key);
// - addRateLimited(key) retries with per-key exponential backoff, forget(key) resets it;
// - addAfter(key, ms) schedules a key (requeueAfter); the earliest pending time wins;
// - shutdown() stops accepting keys, lets workers drain what is queued, and resolves when
//   everything handed out is done. Delayed keys not yet due are dropped;
// - two priorities, as controller-runtime's priority queue: 'low' keys (periodic resyncs, the
//   initial list) are handed out only when no 'normal' key (a change) waits, and a key waiting
//   at 'low' that is added at 'normal' moves up. So when resyncs are more than the workers can
//   do, a change (a rotate-now, a new pod) still waits only behind other changes.
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { ExponentialFailureRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { noopQueueMetrics, type QueueMetricsSink, type WorkqueueMetrics } from './workqueue-metrics.ts';

export interface WorkQueueOptions {
  /** Name used as the `name` label of the metrics. */
  name: string;
  clock?: Clock;
  /** Default: exponential 5 ms → 1000 s per key. */
  rateLimiter?: RateLimiter;
  metrics?: WorkqueueMetrics;
}

/** 'normal': a change to act on; 'low': a periodic look (resync) or the initial list. */
export type Priority = 'normal' | 'low';

export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter;
  private readonly metrics: QueueMetricsSink;
  /** FIFO of keys ready for a worker; a Set keeps insertion order and makes membership O(1). */
  private readonly queue = new Set<string>();
  /** FIFO of 'low' keys, handed out only when `queue` is empty. */
  private readonly lowQueue = new Set<string>();
  /** Keys that need processing (queued, or re-added while processing), at the priority wanted. */
  private readonly dirty = new Map<string, Priority>();
  /** Keys handed to a worker → when processing started. */
  private readonly processing = new Map<string, number>();
  /** When each queued key was added (for queue_duration). */
  private readonly addedAt = new Map<string, number>();
  /** Delayed keys → due time and timer. */
  private readonly waiting = new Map<string, { dueAt: number; priority: Priority; timer: TimerHandle }>();
  /** Workers blocked in get(). */
  private readonly getters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private drained: (() => void) | undefined;
  private readonly drainedPromise: Promise<void>;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.rateLimiter = options.rateLimiter ?? new ExponentialFailureRateLimiter();
    this.metrics = options.metrics?.forQueue(this.name, () => this.inflight()) ?? noopQueueMetrics;
    this.drainedPromise = new Promise((resolve) => (this.drained = resolve));
  }

  /** Marks key as needing processing (a key already waiting keeps its place unless it moves up). Ignored after shutdown. */
  add(key: string, priority: Priority = 'normal'): void {
    if (this.shuttingDown) return;
    const wanted = this.dirty.get(key);
    if (wanted !== undefined) {
      if (priority === 'low' || wanted === 'normal') return;
      this.dirty.set(key, 'normal');
      if (this.lowQueue.delete(key)) this.queue.add(key); // moves up; its addedAt stays
      return;
    }
    this.metrics.added();
    this.dirty.set(key, priority);
    if (this.processing.has(key)) return; // queued again by done()
    this.enqueue(key, priority);
  }

  /**
   * Adds key after delayMs (now when ≤ 0). A pending earlier due time is kept, at the higher
   * of the two priorities.
   */
  addAfter(key: string, delayMs: number, priority: Priority = 'normal'): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key, priority);
      return;
    }
    const dueAt = this.clock.now() + delayMs;
    const pending = this.waiting.get(key);
    if (pending) {
      if (pending.dueAt <= dueAt) {
        if (priority === 'normal') pending.priority = 'normal';
        return;
      }
      this.clock.clearTimeout(pending.timer);
      if (pending.priority === 'normal') priority = 'normal';
    }
    const timer = this.clock.setTimeout(() => {
      const due = this.waiting.get(key);
      this.waiting.delete(key);
      this.add(key, due?.priority ?? priority);
    }, delayMs);
    this.waiting.set(key, { dueAt, priority, timer });
  }

  /** Adds key after its rate-limited backoff (one more failure counted). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.metrics.retried();
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Resets key's backoff (call after it was processed successfully). */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * The next key to process, waiting if none is ready; undefined once the queue is shut down
   * and empty. The caller owns the key until it calls done(key).
   */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Ends processing of key; queues it again if it was added meanwhile. */
  done(key: string): void {
    const startedAt = this.processing.get(key);
    if (startedAt === undefined) return;
    this.processing.delete(key);
    this.metrics.worked(seconds(this.clock.now() - startedAt));
    const wanted = this.dirty.get(key);
    if (wanted !== undefined) this.enqueue(key, wanted);
    this.checkDrained();
  }

  /** Keys ready for a worker. */
  len(): number {
    return this.queue.size + this.lowQueue.size;
  }

  /** Keys ready for a worker at 'low' priority (waiting behind every 'normal' one). */
  lenLow(): number {
    return this.lowQueue.size;
  }

  /** Keys scheduled by addAfter/addRateLimited and not yet due. */
  pendingDelayed(): number {
    return this.waiting.size;
  }

  /** Milliseconds the longest-running key has been processed (0 when idle). */
  longestRunningMs(): number {
    const now = this.clock.now();
    let longest = 0;
    for (const startedAt of this.processing.values()) longest = Math.max(longest, now - startedAt);
    return longest;
  }

  /**
   * Stops accepting keys and drops delayed ones; workers keep receiving the queued keys.
   * Resolves when the queue is empty and every key handed out is done.
   */
  shutdown(): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      for (const { timer } of this.waiting.values()) this.clock.clearTimeout(timer);
      this.waiting.clear();
      if (this.len() === 0) for (const resolve of this.getters.splice(0)) resolve(undefined);
      this.checkDrained();
    }
    return this.drainedPromise;
  }

  private enqueue(key: string, priority: Priority): void {
    const getter = this.getters.shift();
    if (getter) {
      this.addedAt.set(key, this.clock.now());
      getter(this.start(key));
      return;
    }
    (priority === 'low' ? this.lowQueue : this.queue).add(key);
    this.addedAt.set(key, this.clock.now());
    this.metrics.depth(this.len());
  }

  private take(): string | undefined {
    const from = this.queue.size > 0 ? this.queue : this.lowQueue;
    const next = from.values().next();
    if (next.done) return undefined;
    from.delete(next.value);
    this.metrics.depth(this.len());
    return this.start(next.value);
  }

  private start(key: string): string {
    const now = this.clock.now();
    const addedAt = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (addedAt !== undefined) this.metrics.queued(seconds(now - addedAt));
    this.dirty.delete(key);
    this.processing.set(key, now);
    return key;
  }

  private checkDrained(): void {
    if (!this.shuttingDown || this.len() > 0 || this.processing.size > 0) return;
    for (const resolve of this.getters.splice(0)) resolve(undefined);
    this.drained?.();
  }

  private inflight(): { unfinishedSeconds: number; longestRunningSeconds: number } {
    const now = this.clock.now();
    let total = 0;
    let longest = 0;
    for (const startedAt of this.processing.values()) {
      total += now - startedAt;
      longest = Math.max(longest, now - startedAt);
    }
    return { unfinishedSeconds: seconds(total), longestRunningSeconds: seconds(longest) };
  }
}

function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}
