// Backoff for re-pushing a ring to pods whose last push failed: 1s, 2s, 4s, … capped at 2m.
export const PUSH_RETRY_BASE_MS = 1_000;
export const PUSH_RETRY_MAX_MS = 120_000;

/** Delay before retry number `attempt` (1-based). */
export function pushRetryDelayMs(attempt: number): number {
  const exp = Math.min(Math.max(attempt, 1) - 1, 30);
  return Math.min(PUSH_RETRY_BASE_MS * 2 ** exp, PUSH_RETRY_MAX_MS);
}
