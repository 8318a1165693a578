// A manual clock for the operator's timers: time moves only when a test advances it.
import type { Clock, TimerHandle } from '../../../../src/operator/runtime/clock.ts';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = Date.UTC(2026, 10, 25, 12, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: ++this.seq, at: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  /** Due time of the earliest pending timer. */
  nextTimerAt(): number | undefined {
    return this.sorted()[0]?.at;
  }

  /**
   * Moves time forward by ms, firing due timers in time order. Timers due at the same instant
   * fire back to back (as real ones do in one turn of the event loop); then pending promise
   * callbacks and I/O get to run before time moves on.
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.sorted()[0];
      if (!next || next.at > end) break;
      const due = this.sorted().filter((t) => t.at === next.at);
      this.timers = this.timers.filter((t) => !due.includes(t));
      this.t = Math.max(this.t, next.at);
      for (const t of due) t.fn();
    }
    this.t = end;
    await settle();
  }

  private sorted(): Timer[] {
    return [...this.timers].sort((a, b) => a.at - b.at || a.id - b.id);
  }
}

/** Lets queued promise callbacks and immediate I/O callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Waits until cond() holds (e.g. an HTTP exchange with nock finished), yielding to the real
 * event loop between checks; fails after many rounds. Not a timing assertion: only a bound.
 */
export async function until(cond: () => boolean, what = 'condition', rounds = 5000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (cond()) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`gave up waiting for ${what}`);
}
