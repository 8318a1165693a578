// Per-key exponential backoff for failed work, as client-go's ItemExponentialFailureRateLimiter:
// the n-th consecutive failure of a key waits base·2^(n-1), capped; forget(key) resets it.

export interface RateLimiter {
  /** How long to wait before retrying key; counts one more failure. */
  when(key: string): number;
  /** Clears the failure count of key (call after success). */
  forget(key: string): void;
  /** Consecutive failures recorded for key. */
  numRequeues(key: string): number;
}

export interface ExponentialBackoffOptions {
  /** Delay after the first failure (default 5 ms, as controller-runtime). */
  baseDelayMs?: number;
  /** Upper bound (default 1000 s, as controller-runtime). */
  maxDelayMs?: number;
}

export class ExponentialFailureRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: ExponentialBackoffOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return backoffDelay(n, this.baseDelayMs, this.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** base·2^attempt capped at max (attempt counts from 0). Safe for huge attempts. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  if (attempt >= 64) return maxMs;
  return Math.min(maxMs, baseMs * 2 ** attempt);
}
