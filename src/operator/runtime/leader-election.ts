// Leader election on a coordination.k8s.io/v1 Lease with client-go semantics.
//
// - A candidate reads the Lease every retryPeriod (jittered). It takes the Lease when it does
//   not exist, has no holder, or its record has not changed for leaseDuration as measured on
//   OUR clock since we first saw that record (client-go's observedTime: no trust in the
//   holder's clock). Taking over from another holder bumps leaseTransitions and sets
//   acquireTime. Every write is an update with the resourceVersion we read (optimistic
//   concurrency), so two candidates cannot both win: the loser gets 409.
// - The leader renews every retryPeriod. If no renew has succeeded for renewDeadline, or the
//   Lease shows another holder, leadership is lost: onStoppedLeading('lost') runs and the
//   elector stops for good. The process should then exit (client-go's contract), because it
//   cannot know what the new leader has written since.
// - stop() releases a held Lease (holder cleared, leaseDuration 1 s) so a standby takes over
//   at its next retry instead of waiting out the lease, then calls onStoppedLeading('released').
// renewDeadline < leaseDuration leaves a margin: we stop acting as leader before anyone else
// may take the Lease.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { describeError } from '../../observability/describe-error.ts';
import { createLogger, type Logger } from '../../observability/logger.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { statusCodeOf, toKubeError } from './api-errors.ts';
import { withTimeout } from './request-options.ts';

/** client-go's wait.Jitter factor for the acquire loop. */
const JITTER_FACTOR = 1.2;

export type StoppedReason = 'lost' | 'released';

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  /** Namespace and name of the Lease. */
  namespace: string;
  name: string;
  /** This candidate's identity (unique per process, e.g. pod name + random suffix). */
  identity: string;
  leaseDurationMs?: number; // default 15 s
  renewDeadlineMs?: number; // default 10 s
  retryPeriodMs?: number; // default 2 s
  /** Timeout of each API request (default: retryPeriod). */
  requestTimeoutMs?: number;
  /** Release the Lease on stop() (default true). */
  releaseOnStop?: boolean;
  onStartedLeading: () => void;
  /** 'lost': leadership was lost (exit the process); 'released': stop() gave it up. */
  onStoppedLeading: (reason: StoppedReason) => void;
  /** Called when the observed holder changes (including to us). */
  onNewLeader?: (identity: string) => void;
  clock?: Clock;
  /** Random source for the retry jitter, in [0, 1). */
  random?: () => number;
  logger?: Logger;
}

/** A candidate identity as client-go tools build it: host name (the pod name in a pod) + '_' + a UUID. */
export function candidateIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

type State = 'idle' | 'candidate' | 'leader' | 'stopped';

/** The fields of a Lease spec that make up the election record. */
interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

export class LeaderElector {
  readonly identity: string;
  private readonly api: CoordinationV1Api;
  private readonly opts: Required<Pick<LeaderElectorOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs' | 'requestTimeoutMs' | 'releaseOnStop'>>;
  private readonly namespace: string;
  private readonly name: string;
  private readonly callbacks: Pick<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading' | 'onNewLeader'>;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger: Logger;

  private state: State = 'idle';
  /** Last Lease object read or written (its resourceVersion makes the next write conditional). */
  private lease: V1Lease | undefined;
  /** Record of `lease` and when we first saw it unchanged (client-go observedTime). */
  private observedRecord: LeaseRecord | undefined;
  private observedAt = 0;
  private lastRenewAt = 0;
  private lastLoopAt = 0;
  private reportedLeader: string | undefined;
  private loopTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private inflight: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    const leaseDurationMs = options.leaseDurationMs ?? 15_000;
    const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    const retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(leaseDurationMs > renewDeadlineMs)) throw new Error('leaseDuration must be greater than renewDeadline');
    if (!(renewDeadlineMs > JITTER_FACTOR * retryPeriodMs)) throw new Error(`renewDeadline must be greater than ${JITTER_FACTOR} × retryPeriod`);
    if (!(retryPeriodMs > 0)) throw new Error('retryPeriod must be positive');
    if (!options.identity) throw new Error('identity must not be empty');
    this.opts = {
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
      requestTimeoutMs: options.requestTimeoutMs ?? retryPeriodMs,
      releaseOnStop: options.releaseOnStop ?? true,
    };
    this.identity = options.identity;
    this.namespace = options.namespace;
    this.name = options.name;
    this.callbacks = options;
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.logger = (options.logger ?? createLogger({ component: 'leader-election' })).child({ lease: `${this.namespace}/${this.name}`, identity: this.identity });
  }

  /** Starts competing for the Lease. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'candidate';
    this.lastLoopAt = this.clock.now();
    this.logger.info('attempting to acquire leader lease');
    this.schedule(0);
  }

  /** Stops competing; releases the Lease if we hold it (and releaseOnStop). */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'idle') {
      this.state = 'stopped';
      return;
    }
    const wasLeader = this.state === 'leader';
    this.state = 'stopped';
    this.clearTimers();
    // Let a request in flight settle: it may have just made us holder, and its
    // resourceVersion is the one to release.
    await this.inflight;
    if (this.opts.releaseOnStop) await this.release();
    if (wasLeader) this.callbacks.onStoppedLeading('released');
  }

  isLeader(): boolean {
    return this.state === 'leader';
  }

  /** Holder identity last observed in the Lease ('' when free, undefined before the first read). */
  observedLeader(): string | undefined {
    return this.observedRecord?.holderIdentity;
  }

  /** Liveness: true, or why the election loop looks stuck. */
  liveness(): true | string {
    if (this.state !== 'candidate' && this.state !== 'leader') return true;
    const silent = this.clock.now() - this.lastLoopAt;
    const limit = 2 * (this.opts.retryPeriodMs * (1 + JITTER_FACTOR) + this.opts.requestTimeoutMs);
    return silent > limit ? `leader election loop silent for ${Math.round(silent / 1000)}s` : true;
  }

  private schedule(delayMs: number): void {
    this.loopTimer = this.clock.setTimeout(() => {
      this.loopTimer = undefined;
      this.inflight = this.tick().finally(() => (this.inflight = undefined));
    }, delayMs);
  }

  private async tick(): Promise<void> {
    this.lastLoopAt = this.clock.now();
    if (this.state === 'candidate') {
      const acquired = await this.tryAcquireOrRenew();
      if (this.state !== 'candidate') return; // stopped meanwhile
      if (acquired) {
        this.becomeLeader();
        this.schedule(this.opts.retryPeriodMs);
      } else {
        this.schedule(this.opts.retryPeriodMs * (1 + JITTER_FACTOR * this.random()));
      }
    } else if (this.state === 'leader') {
      const renewed = await this.tryAcquireOrRenew();
      if (this.state !== 'leader') return; // lost or stopped meanwhile
      if (renewed) {
        this.lastRenewAt = this.clock.now();
        this.armDeadline();
      } else if (this.observedRecord && this.observedRecord.holderIdentity !== this.identity) {
        this.loseLeadership(`lease now held by ${JSON.stringify(this.observedRecord.holderIdentity)}`);
        return;
      }
      this.schedule(this.opts.retryPeriodMs);
    }
  }

  /** One attempt: read (or create) the Lease, then write ourselves in as holder if allowed. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    // Fast path for the leader: update the Lease we last wrote without reading it first.
    if (this.state === 'leader' && this.lease && this.observedRecord?.holderIdentity === this.identity) {
      const ok = await this.write(this.lease, this.nextRecord(this.observedRecord, now));
      if (ok) return true;
    }

    let current: V1Lease;
    try {
      current = await this.api.readNamespacedLease({ namespace: this.namespace, name: this.name }, withTimeout(this.opts.requestTimeoutMs));
    } catch (err) {
      if (statusCodeOf(err) !== 404) {
        this.logger.warn('reading lease failed', { err: this.describe(err) });
        return false;
      }
      return this.create(now);
    }
    const record = recordOf(current.spec);
    this.observe(current, record, now);
    const heldByOther = record.holderIdentity !== '' && record.holderIdentity !== this.identity;
    if (heldByOther && this.observedAt + record.leaseDurationSeconds * 1000 > now) return false;
    return this.write(current, this.nextRecord(record, now));
  }

  private nextRecord(old: LeaseRecord, now: number): LeaseRecord {
    const ours = old.holderIdentity === this.identity;
    const time = microTime(now);
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.opts.leaseDurationMs / 1000),
      acquireTime: ours && old.acquireTime ? old.acquireTime : time,
      renewTime: time,
      leaseTransitions: ours ? old.leaseTransitions : old.leaseTransitions + 1,
    };
  }

  private async create(now: number): Promise<boolean> {
    const time = microTime(now);
    const record: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.opts.leaseDurationMs / 1000),
      acquireTime: time,
      renewTime: time,
      leaseTransitions: 0,
    };
    try {
      const created = await this.api.createNamespacedLease(
        { namespace: this.namespace, body: { metadata: { name: this.name, namespace: this.namespace }, spec: specOf(record) } },
        withTimeout(this.opts.requestTimeoutMs),
      );
      this.observe(created, recordOf(created.spec), now);
      return true;
    } catch (err) {
      if (statusCodeOf(err) !== 409) this.logger.warn('creating lease failed', { err: this.describe(err) });
      return false;
    }
  }

  /** Updates the Lease to record, conditional on base's resourceVersion. */
  private async write(base: V1Lease, record: LeaseRecord): Promise<boolean> {
    try {
      const updated = await this.api.replaceNamespacedLease(
        { namespace: this.namespace, name: this.name, body: { ...base, spec: { ...base.spec, ...specOf(record) } } },
        withTimeout(this.opts.requestTimeoutMs),
      );
      this.observe(updated, recordOf(updated.spec), this.clock.now());
      return true;
    } catch (err) {
      const code = statusCodeOf(err);
      if (code === 409) this.logger.debug('lease update conflicted', {});
      else this.logger.warn('updating lease failed', { err: this.describe(err) });
      return false;
    }
  }

  private observe(lease: V1Lease, record: LeaseRecord, now: number): void {
    this.lease = lease;
    if (!this.observedRecord || !sameRecord(this.observedRecord, record)) {
      this.observedRecord = record;
      this.observedAt = now;
    }
    if (record.holderIdentity !== this.reportedLeader) {
      this.reportedLeader = record.holderIdentity;
      if (record.holderIdentity) {
        this.logger.info('new leader observed', { leader: record.holderIdentity });
        this.callbacks.onNewLeader?.(record.holderIdentity);
      }
    }
  }

  private becomeLeader(): void {
    this.state = 'leader';
    this.lastRenewAt = this.clock.now();
    this.armDeadline();
    this.logger.info('acquired leader lease');
    this.callbacks.onStartedLeading();
  }

  /** Leadership ends renewDeadline after the last successful renew, whatever requests hang. */
  private armDeadline(): void {
    if (this.deadlineTimer) this.clock.clearTimeout(this.deadlineTimer);
    const remaining = this.lastRenewAt + this.opts.renewDeadlineMs - this.clock.now();
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.state === 'leader') this.loseLeadership(`no successful renew within ${this.opts.renewDeadlineMs} ms`);
    }, remaining);
  }

  private loseLeadership(why: string): void {
    this.state = 'stopped';
    this.clearTimers();
    this.logger.error('leadership lost', { reason: why });
    this.callbacks.onStoppedLeading('lost');
  }

  /** Clears the holder and shortens the lease so a standby acquires at its next retry. */
  private async release(): Promise<void> {
    if (!this.lease || this.observedRecord?.holderIdentity !== this.identity) return;
    const time = microTime(this.clock.now());
    const record: LeaseRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: time,
      renewTime: time,
      leaseTransitions: this.observedRecord.leaseTransitions,
    };
    if (await this.write(this.lease, record)) {
      this.logger.info('released leader lease');
    } else {
      this.logger.warn('could not release leader lease; standbys take over after it expires');
    }
  }

  /** A failed Lease request, one line: the API's Status reason and message, never the body. */
  private describe(err: unknown): string {
    return describeError(toKubeError(err, `lease ${this.namespace}/${this.name}`));
  }

  private clearTimers(): void {
    if (this.loopTimer) this.clock.clearTimeout(this.loopTimer);
    if (this.deadlineTimer) this.clock.clearTimeout(this.deadlineTimer);
    this.loopTimer = this.deadlineTimer = undefined;
  }
}

function recordOf(spec: V1LeaseSpec | undefined): LeaseRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    // The client leaves MicroTime fields as the strings the server sent.
    acquireTime: timeString(spec?.acquireTime),
    renewTime: timeString(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

function specOf(record: LeaseRecord): V1LeaseSpec {
  return {
    ...(record.holderIdentity ? { holderIdentity: record.holderIdentity } : { holderIdentity: undefined }),
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: new V1MicroTime(record.acquireTime),
    renewTime: new V1MicroTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/** RFC 3339 with microseconds, as the API server stores MicroTime. */
function microTime(ms: number): string {
  return new V1MicroTime(ms).toISOString();
}

function timeString(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return new V1MicroTime(value.getTime()).toISOString();
  return String(value);
}

