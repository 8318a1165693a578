// The resumption SLO signal each pod's agent reports beside its ring (GET /v1/ring `tls`): ATS's
// own counters of session tickets it could not decrypt (tickets_not_found: a resumption that
// fell back to a full handshake) and of tickets decrypted with a key other than the encrypting
// one (tickets_verified_old_key). What a pod reports is input, not truth: a value that is not a
// non-negative safe integer within MAX_TLS_COUNTER is refused (that pod reports nothing), and
// refusing it never affects the ring the same answer reported.
import type { ResumptionStatus } from '../../api/index.ts';
import type { PodTlsCounters } from '../metrics.ts';

/**
 * Largest counter accepted from a pod: 2^48 (about 9 years at a million tickets a second, far
 * beyond one traffic_server's lifetime), so that a sum over many pods stays a safe integer.
 */
export const MAX_TLS_COUNTER = 2 ** 48;

const FIELDS = ['ticketsNotFound', 'ticketsVerifiedOldKey'] as const;

/**
 * The counters of one GET /v1/ring answer: undefined when absent (an agent or bridge that cannot
 * read them), { error } when present but not acceptable.
 */
export function tlsCountersOf(tls: unknown): PodTlsCounters | { error: string } | undefined {
  if (tls === undefined) return undefined;
  if (tls === null || typeof tls !== 'object' || Array.isArray(tls)) return { error: 'tls is not an object' };
  const out: Partial<PodTlsCounters> = {};
  for (const f of FIELDS) {
    const v = (tls as Record<string, unknown>)[f];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > MAX_TLS_COUNTER) {
      return { error: `tls.${f} is not an integer between 0 and ${MAX_TLS_COUNTER}` };
    }
    out[f] = v;
  }
  return out as PodTlsCounters;
}

/** status.pods.resumption: the sums over the pods that reported valid counters; undefined when none did. */
export function resumptionSummary(reports: Iterable<PodTlsCounters | undefined>): ResumptionStatus | undefined {
  let podsReporting = 0;
  let ticketsNotFound = 0;
  let ticketsVerifiedOldKey = 0;
  for (const r of reports) {
    if (!r) continue;
    podsReporting++;
    ticketsNotFound = saturatingAdd(ticketsNotFound, r.ticketsNotFound);
    ticketsVerifiedOldKey = saturatingAdd(ticketsVerifiedOldKey, r.ticketsVerifiedOldKey);
  }
  return podsReporting === 0 ? undefined : { ticketsNotFound, ticketsVerifiedOldKey, podsReporting };
}

function saturatingAdd(a: number, b: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, a + b);
}

/**
 * The resumption summary a status write carries (the session-sharing summary uses its own
 * instance, session-sharing.ts). Counters change with traffic, and every status
 * write is an update event (and an etcd write) per set: writing whenever a counter moved would
 * turn traffic into a status write per reconcile for every set. So a changed summary goes out
 * with a status write that happens anyway (another field changed), or on its own at most once
 * per `minIntervalMs` (the resync period: the operator looks at every set that often anyway);
 * otherwise the last written summary is kept. The metrics carry the live values. The times are
 * this process's memory: after a restart the first change may be written at once.
 */
export class ResumptionWrites {
  #lastWriteAt = new Map<string, number>();

  /**
   * `fresh`: this reconcile's summary; `written`: the one in the stored status; `otherwiseSame`:
   * the rest of the new status equals the stored one (no write would happen without this field).
   */
  choose<T extends object>(key: string, fresh: T | undefined, written: T | undefined, otherwiseSame: boolean, now: number, minIntervalMs: number): T | undefined {
    if (sameSummary(fresh, written)) return written;
    if (otherwiseSame) {
      const last = this.#lastWriteAt.get(key);
      if (last !== undefined && now - last < minIntervalMs && now >= last) return written;
    }
    return fresh;
  }

  /** A status carrying a changed summary was written at `now`. */
  wrote(key: string, now: number): void {
    this.#lastWriteAt.set(key, now);
  }

  forget(key: string): void {
    this.#lastWriteAt.delete(key);
  }
}

/** Two summaries of counters (flat objects of numbers, as resumption and sessionSharing) say the same. */
export function sameSummary(a: object | undefined, b: object | undefined): boolean {
  if (!a || !b) return a === b;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  for (const k of keys) if (x[k] !== y[k]) return false;
  return true;
}
