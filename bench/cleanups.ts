// Clean-up steps of a benchmark run, run in reverse order at the end, on an error, or on
// SIGINT/SIGTERM (then the process exits 130): a bench never leaves an API server, ATS or
// agent behind. `stopping` tells long loops to give up early.
export class BenchCleanups {
  readonly #steps: Array<() => Promise<unknown>> = [];
  readonly #log: (line: string) => void;
  #stopping = false;

  constructor(log: (line: string) => void) {
    this.#log = log;
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => {
        log(`${sig}: stopping everything…`);
        void this.run().then(() => process.exit(130));
      });
    }
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  push(step: () => Promise<unknown>): void {
    this.#steps.push(step);
  }

  /** Takes the last step back (to run it now, out of order). */
  pop(): (() => Promise<unknown>) | undefined {
    return this.#steps.pop();
  }

  /** Runs every step once, newest first; a failing step is logged and the others still run. */
  async run(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const step of this.#steps.reverse()) await step().catch((err: unknown) => this.#log(`cleanup: ${err instanceof Error ? err.message : String(err)}`));
  }
}
