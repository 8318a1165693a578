// ATS's TLS session cache through the bridge. A flush answers only once the plugin's stats
// count it (like ring installs, the agent reports what ATS did, not what it was asked).
import { ApiError, atsUnavailable } from './api-error.ts';
import { AtsUnavailableError, type AtsBridge, type SessionCacheStats } from './ats-bridge.ts';
import { pollUntil } from './poll.ts';
import { SESSION_ID_HEX } from './protocol.ts';

export class SessionCache {
  readonly #bridge: AtsBridge;
  readonly #deadlineMs: number;
  readonly #beforeFlush: (() => void) | undefined;

  /** beforeFlush: runs right before every flush is sent to ATS (session sharing sets its notBefore). */
  constructor(bridge: AtsBridge, readbackDeadlineMs: number, hooks: { beforeFlush?: () => void } = {}) {
    this.#bridge = bridge;
    this.#deadlineMs = readbackDeadlineMs;
    this.#beforeFlush = hooks.beforeFlush;
  }

  stats(): Promise<SessionCacheStats> {
    return atsCall(() => this.#bridge.sessionCacheStats());
  }

  /** Flushes every tracked session; resolves with the stats that show the flush. */
  async flush(): Promise<SessionCacheStats> {
    const before = await this.stats();
    this.#beforeFlush?.();
    await atsCall(() => this.#bridge.flushSessionCache());
    const after = await pollUntil(async () => {
      const now = await this.stats();
      return now.flushes > before.flushes ? now : undefined;
    }, this.#deadlineMs);
    if (after) return after;
    throw new ApiError(504, 'readback_timeout', `ATS did not report the flush within ${this.#deadlineMs} ms`);
  }

  /**
   * Removes one session id. Resolves once ATS has the request: an id ATS does not hold
   * changes no counter, so there is nothing to read back.
   */
  async remove(idHex: string): Promise<void> {
    if (!SESSION_ID_HEX.test(idHex)) throw new ApiError(400, 'bad_request', 'session id must be 1 to 32 bytes in hex');
    await atsCall(() => this.#bridge.removeSession(idHex.toLowerCase()));
  }
}

/** ATS unreachable → 503 with a retry hint, as for ring installs. */
async function atsCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof AtsUnavailableError) throw atsUnavailable();
    throw err;
  }
}
