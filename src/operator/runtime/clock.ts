// Time and timers behind one small interface, so every time-dependent part of the operator
// (queues, backoff, watchdogs, leader election) can be driven by a fake clock in tests.

/** An opaque handle returned by Clock.setTimeout. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds since the Unix epoch (wall clock). */
  now(): number;
  /** Runs fn once after ms milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
