// The agent's one piece of state: the last ring it accepted, proven installed in ATS. It
// installs rings one at a time, answers only once ATS's own stats show the exact ring, and
// puts the ring back whenever ATS loses it (restart) or holds another ring of an older or the
// same generation. Generations only go forward, revoke or not: a ring older than what the
// agent accepted or ATS holds is refused, and a newer generation in ATS (another writer in
// the pod) is never overwritten: the agent reports it and stays not ready.
// The ring lives only here, in memory; Buffers it drops are zeroed.
import { describeError } from '../observability/describe-error.ts';
import type { Logger } from '../observability/logger.ts';
import { ApiError, atsUnavailable } from './api-error.ts';
import { AtsRejectedError, AtsUnavailableError, type AtsBridge, type AtsInstalled } from './ats-bridge.ts';
import type { AgentMetrics, InstallResult } from './metrics.ts';
import type { AcceptedRing, GetRingResponse, PutRingResponse, TlsTicketCounters } from './protocol.ts';
import { zeroRing, type Ring } from './ring.ts';
import { pollUntil } from './poll.ts';
import { Serial } from './serial.ts';

export interface RingKeeperOptions {
  bridge: AtsBridge;
  logger: Logger;
  metrics: AgentMetrics;
  /** How long ATS gets to show a pushed ring in its stats before the agent answers 504. */
  readbackDeadlineMs?: number;
  /** Seconds a client should wait before retrying when ATS is down. */
  retryAfterSeconds?: number;
}

export interface KeeperStatus {
  ready: boolean;
  /** Why not ready ('' when ready). */
  reason: string;
  atsUp: boolean;
}

interface Accepted {
  ring: Ring;
  installedAt: Date;
}

const NOTHING_ACCEPTED = 'no ring accepted yet';

function holds(seen: AtsInstalled, ring: Ring): boolean {
  return seen.generation === ring.generation && seen.ringFingerprint === ring.ringFingerprint;
}

function sameRing(a: Ring, b: Ring): boolean {
  return a.generation === b.generation && a.ringFingerprint === b.ringFingerprint;
}

function iso(startTimeSeconds: number): string {
  return new Date(startTimeSeconds * 1000).toISOString();
}

export class RingKeeper {
  readonly #bridge: AtsBridge;
  readonly #log: Logger;
  readonly #metrics: AgentMetrics;
  readonly #deadlineMs: number;
  readonly #retryAfter: number;
  readonly #serial = new Serial();
  #accepted: Accepted | null = null;
  /** The last ring whose read-back timed out: adopted if ATS shows it later. */
  #pending: Ring | null = null;
  #lastStartTime: number | null = null;
  /** The newer ring last reported as held by ATS over the accepted one (logged once each). */
  #aheadReported: string | null = null;
  #status: KeeperStatus = { ready: false, reason: NOTHING_ACCEPTED, atsUp: false };

  constructor(options: RingKeeperOptions) {
    this.#bridge = options.bridge;
    this.#log = options.logger;
    this.#metrics = options.metrics;
    this.#deadlineMs = options.readbackDeadlineMs ?? 2000;
    this.#retryAfter = options.retryAfterSeconds ?? 1;
  }

  status(): KeeperStatus {
    return { ...this.#status };
  }

  /** The accepted ring's active key fingerprint: what accepted() says, without copying anything (for pollers). */
  activeFingerprint(): string | undefined {
    return this.#accepted?.ring.activeFingerprint;
  }

  accepted(): AcceptedRing | null {
    const a = this.#accepted;
    if (!a) return null;
    return {
      generation: a.ring.generation,
      ringFingerprint: a.ring.ringFingerprint,
      activeFingerprint: a.ring.activeFingerprint,
      keyFingerprints: [...a.ring.keyFingerprints],
      installedAt: a.installedAt.toISOString(),
    };
  }

  /**
   * Installs a validated ring and answers once ATS holds it. Takes ownership of `ring`: its
   * bytes are kept (accepted) or zeroed.
   */
  put(ring: Ring): Promise<PutRingResponse> {
    return this.#serial.run(async () => {
      const started = performance.now();
      try {
        const before = await this.#read();
        this.#checkGeneration(ring, before);
        let installedAt = new Date();
        let seen = before;
        let result: InstallResult;
        if (holds(before, ring)) {
          // Idempotent re-push (the operator retries, or the agent restarted): nothing to do.
          result = 'unchanged';
          const prev = this.#accepted;
          if (prev && prev.ring.ringFingerprint === ring.ringFingerprint && prev.ring.generation === ring.generation) installedAt = prev.installedAt;
        } else {
          try {
            seen = await this.#installAndVerify(ring, before, ring.revoke);
          } catch (err) {
            if (err instanceof ApiError && err.code === 'readback_timeout') this.#setPending(ring);
            throw err;
          }
          result = 'installed';
          installedAt = new Date();
        }
        this.#accept(ring, installedAt);
        this.#metrics.installs.inc({ result });
        this.#metrics.installDuration.observe((performance.now() - started) / 1000);
        this.#log.info('ring accepted', {
          generation: ring.generation,
          ringFingerprint: ring.ringFingerprint,
          activeFingerprint: ring.activeFingerprint,
          keyCount: ring.keys.length,
          revoke: ring.revoke,
          result,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
        });
        return {
          generation: ring.generation,
          ringFingerprint: ring.ringFingerprint,
          activeFingerprint: ring.activeFingerprint,
          installedAt: installedAt.toISOString(),
          atsStartTime: iso(seen.startTime),
        };
      } catch (err) {
        const code = err instanceof ApiError ? err.code : 'internal';
        // Refusals (409) are counted by the HTTP layer with every other refusal.
        if (code !== 'stale_generation') this.#metrics.installs.inc({ result: code === 'ats_unavailable' || code === 'readback_timeout' ? code : 'error' });
        this.#log.warn('ring refused', {
          generation: ring.generation,
          ringFingerprint: ring.ringFingerprint,
          error: code,
          reason: describeError(err),
        });
        if (this.#accepted?.ring !== ring && this.#pending !== ring) zeroRing(ring);
        throw err;
      }
    });
  }

  /** What ATS holds now, beside what the agent accepted. */
  async getRing(): Promise<GetRingResponse> {
    const seen = await this.#read();
    const a = this.#accepted;
    return {
      ats: {
        generation: seen.generation,
        keyCount: seen.keyCount,
        ringFingerprint: seen.ringFingerprint,
        rejected: seen.rejected,
        startTime: iso(seen.startTime),
      },
      accepted: this.accepted(),
      inSync: a !== null && holds(seen, a.ring),
      ...(await this.#tlsTicketStats()),
    };
  }

  /** ATS's ticket counters, when the bridge reads them; a failed read only leaves them out. */
  async #tlsTicketStats(): Promise<{ tls?: TlsTicketCounters }> {
    if (!this.#bridge.readTlsTicketStats) return {};
    try {
      const t = await this.#bridge.readTlsTicketStats();
      const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
      if (!ok(t.ticketsNotFound) || !ok(t.ticketsVerifiedOldKey)) return {};
      return { tls: { ticketsNotFound: t.ticketsNotFound, ticketsVerifiedOldKey: t.ticketsVerifiedOldKey } };
    } catch (err) {
      this.#log.debug('ATS ticket counters not readable', { reason: describeError(err) });
      return {};
    }
  }

  /**
   * One re-assert tick (resolves true when it re-installed the accepted ring): observe ATS, and when it does not hold the accepted ring (restarted,
   * or overwritten at an older or the same generation), install the accepted ring again; a
   * newer generation is reported, never overwritten. Skipped while an install runs: that
   * install proves its own result.
   */
  async reconcile(): Promise<boolean> {
    if (this.#serial.busy > 0) return false;
    let reasserted = false;
    await this.#serial.run(async () => {
      let seen: AtsInstalled;
      try {
        seen = await this.#read();
      } catch {
        return; // #read recorded ATS as down.
      }
      if (this.#pending && holds(seen, this.#pending)) {
        // A ring whose read-back timed out did land: it is what the operator last asked for.
        const ring = this.#pending;
        this.#pending = null;
        this.#accept(ring, new Date());
        this.#metrics.reasserts.inc({ result: 'adopted' });
        this.#log.info('late install adopted', { generation: ring.generation, ringFingerprint: ring.ringFingerprint });
        return;
      }
      const a = this.#accepted;
      if (!a) return this.#setStatus(false, NOTHING_ACCEPTED);
      if (holds(seen, a.ring)) return this.#setStatus(true, '');
      // Putting the accepted ring back over a newer one would be a rollback.
      if (seen.generation > a.ring.generation) return this.#reportAtsAhead(seen, a.ring);
      this.#setStatus(false, 'ATS does not hold the accepted ring');
      this.#log.warn('re-asserting accepted ring', {
        generation: a.ring.generation,
        ringFingerprint: a.ring.ringFingerprint,
        atsGeneration: seen.generation,
        atsRingFingerprint: seen.ringFingerprint,
        atsStartTime: iso(seen.startTime),
      });
      try {
        // No revoke flag: the incident was handled when the ring was accepted.
        await this.#installAndVerify(a.ring, seen, false);
        this.#metrics.reasserts.inc({ result: 'installed' });
        reasserted = true;
        this.#setStatus(true, '');
        this.#log.info('accepted ring re-asserted', { generation: a.ring.generation, ringFingerprint: a.ring.ringFingerprint });
      } catch (err) {
        this.#metrics.reasserts.inc({ result: 'failed' });
        this.#log.warn('re-assert failed', { generation: a.ring.generation, error: describeError(err) });
      }
    });
    return reasserted;
  }

  /** Does ATS (as seen) hold the accepted ring? null: nothing accepted yet. */
  holdsAccepted(seen: AtsInstalled): boolean | null {
    const a = this.#accepted;
    return a === null ? null : holds(seen, a.ring);
  }

  /** Zeroes every ring the agent holds. */
  async close(): Promise<void> {
    await this.#serial.run(async () => {
      if (this.#accepted) zeroRing(this.#accepted.ring);
      if (this.#pending) zeroRing(this.#pending);
      this.#accepted = null;
      this.#pending = null;
      this.#setStatus(false, 'agent stopped');
    });
  }

  /**
   * Every ring, revoke or not, must be newer than the accepted one and than what ATS holds; the
   * accepted ring itself again (or exactly what ATS holds) is an idempotent re-push. A revoke
   * only means the ring replaces every key: the operator issues it above every generation.
   */
  #checkGeneration(ring: Ring, seen: AtsInstalled): void {
    const a = this.#accepted?.ring;
    if (a && ring.generation < a.generation) {
      throw new ApiError(409, 'stale_generation', `generation ${ring.generation} is older than the accepted generation ${a.generation}`);
    }
    if (a && ring.generation === a.generation && ring.ringFingerprint !== a.ringFingerprint) {
      throw new ApiError(409, 'stale_generation', `generation ${ring.generation} was already accepted for another ring`);
    }
    // After an agent restart ATS still knows the newest generation: no replay past it either.
    if (ring.generation < seen.generation) {
      throw new ApiError(409, 'stale_generation', `generation ${ring.generation} is older than the generation ${seen.generation} ATS holds`);
    }
    if (ring.generation === seen.generation && !holds(seen, ring) && !(a && sameRing(a, ring))) {
      throw new ApiError(409, 'stale_generation', `generation ${ring.generation} is what ATS holds, with another ring`);
    }
  }

  /** Callers made sure ATS holds no newer generation than `ring`. */
  async #installAndVerify(ring: Ring, before: AtsInstalled, revoke: boolean): Promise<AtsInstalled> {
    // The plugin accepts only newer generations, and the same generation only flagged as a
    // reassert: the agent's accepted ring going back over another ring of its generation.
    const reassert = before.generation === ring.generation;
    const install = { generation: ring.generation, keys: ring.keys, revoke, reassert };
    try {
      if (this.#bridge.installWithReceipt) {
        // The plugin's ack channel: its own record of the install, no stats lag. Untrusted: the
        // bridge matched it to this ring, and the re-assert loop's stats read-back stays the truth.
        const receipt = await this.#bridge.installWithReceipt(install);
        if (receipt && receipt.generation === ring.generation && receipt.ringFingerprint === ring.ringFingerprint && receipt.keyCount === ring.keys.length) {
          this.#metrics.installConfirmations.inc({ via: 'ack' });
          return { ...before, generation: ring.generation, keyCount: ring.keys.length, ringFingerprint: ring.ringFingerprint };
        }
      } else {
        await this.#bridge.install(install);
      }
    } catch (err) {
      if (err instanceof AtsRejectedError) {
        // Another writer took ATS past this generation meanwhile: the same answer as the
        // generation check gives. Anything else the agent validated already: a plugin fault.
        if (err.reason === 'stale_generation') {
          throw new ApiError(409, 'stale_generation', `ATS refused generation ${ring.generation}: it holds generation ${err.installedGeneration}`);
        }
        throw new ApiError(502, 'internal', `ATS refused the ring (${err.reason})`);
      }
      throw this.#unavailable(err);
    }
    let down = false;
    const seen = await pollUntil(async () => {
      try {
        const now = await this.#read();
        down = false;
        return holds(now, ring) ? now : undefined;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 'ats_unavailable')) throw err;
        down = true;
        return undefined;
      }
    }, this.#deadlineMs);
    if (seen) {
      this.#metrics.installConfirmations.inc({ via: 'stats' });
      return seen;
    }
    if (down) throw atsUnavailable(this.#retryAfter, 'ATS became unreachable before it showed the ring');
    throw new ApiError(504, 'readback_timeout', `ATS did not show generation ${ring.generation} within ${this.#deadlineMs} ms`);
  }

  /** Reads ATS's state, tracking up/down and restarts. ATS down → ApiError 503. */
  async #read(): Promise<AtsInstalled> {
    let seen: AtsInstalled;
    try {
      seen = await this.#bridge.readInstalled();
    } catch (err) {
      throw this.#unavailable(err);
    }
    this.#metrics.atsUp.set(1);
    if (seen.mlockFailed !== undefined) this.#metrics.pluginMlockFailed.set(seen.mlockFailed ? 1 : 0);
    this.#status.atsUp = true;
    if (this.#lastStartTime !== null && seen.startTime !== this.#lastStartTime) {
      this.#metrics.atsRestarts.inc();
      this.#log.warn('ATS restarted', { previousStartTime: iso(this.#lastStartTime), atsStartTime: iso(seen.startTime) });
    }
    this.#lastStartTime = seen.startTime;
    return seen;
  }

  #unavailable(err: unknown): unknown {
    if (!(err instanceof AtsUnavailableError)) return err;
    if (this.#status.atsUp) this.#log.warn('ATS unreachable', { error: err.message });
    this.#metrics.atsUp.set(0);
    this.#status.atsUp = false;
    this.#setStatus(false, 'ATS unreachable');
    return atsUnavailable(this.#retryAfter);
  }

  #accept(ring: Ring, installedAt: Date): void {
    const prev = this.#accepted;
    if (prev && prev.ring !== ring) zeroRing(prev.ring);
    if (this.#pending && this.#pending !== ring) zeroRing(this.#pending);
    this.#pending = null;
    this.#accepted = { ring, installedAt };
    this.#metrics.acceptedGeneration.set(ring.generation);
    this.#setStatus(true, '');
  }

  /**
   * ATS holds a newer generation than the accepted ring: pushed by someone else (any process
   * in the pod can message the plugin). Not overwritten, that would roll ATS back: not ready,
   * with the reason, a metric and one warning per distinct ring; GET /v1/ring shows what ATS
   * holds, and the operator treats a generation it never issued as this pod's error.
   */
  #reportAtsAhead(seen: AtsInstalled, accepted: Ring): void {
    this.#setStatus(false, `ATS holds generation ${seen.generation}, newer than the accepted generation ${accepted.generation}; not rolled back`, seen.generation);
    const seenKey = `${seen.startTime}/${seen.generation}/${seen.ringFingerprint}`;
    if (this.#aheadReported === seenKey) return;
    this.#aheadReported = seenKey;
    this.#log.warn('ATS holds a newer generation than the accepted ring; it is not overwritten', {
      generation: accepted.generation,
      ringFingerprint: accepted.ringFingerprint,
      atsGeneration: seen.generation,
      atsRingFingerprint: seen.ringFingerprint,
      atsStartTime: iso(seen.startTime),
    });
  }

  #setPending(ring: Ring): void {
    if (this.#pending && this.#pending !== ring) zeroRing(this.#pending);
    this.#pending = ring;
  }

  /** `atsAhead`: the newer generation ATS holds over the accepted ring, 0 when none. */
  #setStatus(ready: boolean, reason: string, atsAhead = 0): void {
    this.#metrics.atsGenerationAhead.set(atsAhead);
    if (atsAhead === 0) this.#aheadReported = null;
    this.#status.ready = ready;
    this.#status.reason = reason;
    this.#metrics.ready.set(ready ? 1 : 0);
  }
}
