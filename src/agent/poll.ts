// Read-back polling: ATS applies a message in milliseconds but its stats reach the management
// socket later, so the agent asks again, quickly at first, until the answer shows up.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `probe` (at once, then after 1, 2, 4 … 20 ms pauses) until it returns a value, and
 * returns that value; returns undefined once `deadlineMs` has passed without one.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, deadlineMs: number): Promise<T | undefined> {
  const deadline = performance.now() + deadlineMs;
  for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() >= deadline) return undefined;
    await sleep(wait);
  }
}
