// A per-pod circuit breaker in front of the agents (a decorator of AgentPort). A pod whose agent
// did not answer (timeout) or could not be reached is not dialled again for a backoff window
// (1 s, doubling up to 60 s, reset by any answer): its calls fail at once with the last error,
// so hundreds of black-holed pods cost one timeout each per window instead of one per call, and
// never hold the bounded fan-out slots the healthy pods need. After the window one call is let
// through as a probe (half-open); at most maxProbesInFlight probes run at once across all pods,
// other pods due for a probe keep failing fast until a probe slot is free. An answer of any kind
// (even an HTTP error) proves the agent reachable and closes the breaker.
//
// A per-reconcile deadline (withAgentDeadline, set around each reconcile) bounds the rest: once
// it passed, that reconcile dials no agent any more (its calls fail at once, without tripping a
// breaker), so a reconcile that meets many newly black-holed pods ends within the deadline plus
// one agent timeout, and the next reconcile goes on from there (those pods then back off).
//
// Failing fast changes nothing else: the caller sees an AgentError as from an unreachable agent,
// so the pod keeps its last acknowledged ring (fail open), and nothing counts as acknowledgement.
import { AsyncLocalStorage } from 'node:async_hooks';
import { AgentError } from '../../agent/client.ts';
import type { GetRingResponse, PutRingRequest, PutRingResponse } from '../../agent/protocol.ts';
import type { SessionSharingConfig } from '../../contract/session-sharing.ts';
import { describeError } from '../../observability/describe-error.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import type { AgentAddress, AgentPort } from './agents.ts';

export interface AgentBreakerOptions {
  clock?: Clock;
  /** First backoff window after a failure (default 1 s); doubles with each failed probe. */
  initialBackoffMs?: number;
  /** Longest backoff window (default 60 s). */
  maxBackoffMs?: number;
  /** Probes (calls after a window) in flight at once across all pods (default 4). */
  maxProbesInFlight?: number;
  /** Pods remembered (default 4096); the oldest entries go first. */
  maxPods?: number;
}

/** The call was not made: the pod's agent is in its backoff window. */
export class AgentBackingOffError extends AgentError {
  /** When the next probe may be made (epoch ms). */
  readonly until: number;
  /** The failure that opened (or kept open) the breaker, one line (describeError). */
  readonly lastError: string;

  constructor(until: number, lastError: string) {
    super(0, 'unreachable', `backing off until ${isoSeconds(until)} after: ${lastError}`);
    this.name = 'AgentBackingOffError';
    this.until = until;
    this.lastError = lastError;
  }
}

/** The deadline (epoch ms) of the reconcile an agent call is made for. */
const reconcileDeadline = new AsyncLocalStorage<number>();

/** Runs fn (a reconcile) with a deadline after which it dials no agent. */
export function withAgentDeadline<T>(deadlineAt: number, fn: () => Promise<T>): Promise<T> {
  return reconcileDeadline.run(deadlineAt, fn);
}

/** The call was not made: the reconcile it belongs to is past its deadline. */
export class AgentDeadlineError extends AgentError {
  constructor(deadlineAt: number) {
    super(0, 'unreachable', `not dialled: this reconcile's deadline for agent calls passed at ${isoSeconds(deadlineAt)}; read again in the next reconcile`);
    this.name = 'AgentDeadlineError';
  }
}

interface Tripped {
  failures: number;
  openUntil: number;
  lastError: string;
  probing: boolean;
}

export class AgentBreaker implements AgentPort {
  private readonly inner: AgentPort;
  private readonly clock: Clock;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly maxProbes: number;
  private readonly maxPods: number;
  /** Pods whose last call failed unreachable, by pod uid and address; insertion order = age. */
  private readonly tripped = new Map<string, Tripped>();
  private probesInFlight = 0;

  constructor(inner: AgentPort, options: AgentBreakerOptions = {}) {
    this.inner = inner;
    this.clock = options.clock ?? systemClock;
    this.initialMs = options.initialBackoffMs ?? 1000;
    this.maxMs = options.maxBackoffMs ?? 60_000;
    this.maxProbes = Math.max(1, options.maxProbesInFlight ?? 4);
    this.maxPods = options.maxPods ?? 4096;
  }

  getRing(to: AgentAddress): Promise<GetRingResponse> {
    return this.call(to, () => this.inner.getRing(to));
  }

  putRing(to: AgentAddress, ring: PutRingRequest): Promise<PutRingResponse> {
    return this.call(to, () => this.inner.putRing(to, ring));
  }

  flushSessionCache(to: AgentAddress): Promise<void> {
    return this.call(to, () => this.inner.flushSessionCache(to));
  }

  putSessionSharing(to: AgentAddress, config: SessionSharingConfig): Promise<void> {
    return this.call(to, () => this.inner.putSessionSharing(to, config));
  }

  /** Pods currently backing off (for tests and diagnostics). */
  backingOff(): number {
    const now = this.clock.now();
    let n = 0;
    for (const t of this.tripped.values()) if (now < t.openUntil) n++;
    return n;
  }

  /** The pod (by uid) is gone: forget it. */
  forgetPod(uid: string): void {
    for (const key of [...this.tripped.keys()]) if (key.startsWith(`${uid}|`)) this.tripped.delete(key);
  }

  private async call<T>(to: AgentAddress, fn: () => Promise<T>): Promise<T> {
    const deadline = reconcileDeadline.getStore();
    if (deadline !== undefined && this.clock.now() >= deadline) throw new AgentDeadlineError(deadline);
    const key = keyOf(to);
    const t = this.tripped.get(key);
    let probe = false;
    if (t) {
      // In the window, or due for a probe while another probe of this pod (or too many probes
      // overall) are in flight: fail at once with what we know.
      if (this.clock.now() < t.openUntil || t.probing || this.probesInFlight >= this.maxProbes) {
        throw new AgentBackingOffError(Math.max(t.openUntil, this.clock.now()), t.lastError);
      }
      t.probing = true;
      this.probesInFlight++;
      probe = true;
    }
    try {
      const result = await fn();
      this.tripped.delete(key);
      return result;
    } catch (err) {
      if (opensBreaker(err)) this.trip(key, t, err);
      else this.tripped.delete(key); // an answer, even an error, proves the agent reachable
      throw err;
    } finally {
      if (probe && t) {
        t.probing = false;
        this.probesInFlight--;
      }
    }
  }

  private trip(key: string, previous: Tripped | undefined, err: unknown): void {
    const failures = (previous?.failures ?? 0) + 1;
    const window = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(failures - 1, 30));
    this.tripped.delete(key); // re-inserted: most recently failed last
    this.tripped.set(key, { failures, openUntil: this.clock.now() + window, lastError: describeError(err), probing: false });
    while (this.tripped.size > this.maxPods) {
      const oldest = this.tripped.keys().next();
      if (oldest.done) break;
      this.tripped.delete(oldest.value);
    }
  }
}

/** No answer at all: timed out, refused, reset. TLS refusals and HTTP answers are answers. */
export function opensBreaker(err: unknown): boolean {
  return err instanceof AgentError && err.status === 0 && (err.code === 'timeout' || err.code === 'unreachable');
}

/** One pod's agent: its uid (a new pod at an old IP starts afresh) and its address. */
function keyOf(to: AgentAddress): string {
  return `${to.pod.uid}|${to.ip}|${to.port}`;
}

/** RFC 3339 to the second, as Kubernetes writes times. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
