// Runs async tasks one at a time, in arrival order: ring installs and re-asserts must never
// interleave (the read-back of one would see the other's ring).
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();
  #busy = 0;

  /** Tasks queued or running. */
  get busy(): number {
    return this.#busy;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.#busy++;
    const result = this.#tail.then(task).finally(() => {
      this.#busy--;
    });
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
