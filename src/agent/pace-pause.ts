// The pause of a reader that paces itself (the session FIFO's reader, and the memory bridge's
// stand-in for it): one timer, whose length may change while it runs (sharing's batch interval
// changed), measured from the pause's start.
export class PacePause {
  readonly #onEnd: () => void;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;

  constructor(onEnd: () => void) {
    this.#onEnd = onEnd;
  }

  /** Calls onEnd after ms. */
  start(ms: number): void {
    this.#startedAt = performance.now();
    this.#arm(ms);
  }

  /** A running pause ends at its start plus ms instead (at once when that has passed). */
  retime(ms: number): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#arm(Math.max(0, this.#startedAt + ms - performance.now()));
  }

  /** Ends a running pause without calling onEnd. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#onEnd();
    }, ms);
  }
}
