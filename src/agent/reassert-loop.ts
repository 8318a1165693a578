// Polls ATS on a fixed cadence so a restarted traffic_server gets the accepted ring back
// within one interval of coming up (and /readyz turns false while it does not hold it).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../observability/logger.ts';
import type { RingKeeper } from './ring-keeper.ts';

export interface ReassertLoop {
  stop(): Promise<void>;
}

/** `afterTick` runs after each re-assert (the config reload check for external reloads). */
export function startReassertLoop(keeper: RingKeeper, intervalMs: number, logger: Logger, afterTick?: () => Promise<unknown>): ReassertLoop {
  const abort = new AbortController();
  const done = (async () => {
    while (!abort.signal.aborted) {
      try {
        await keeper.reconcile();
        await afterTick?.();
      } catch (err) {
        logger.error('re-assert tick failed', { error: err instanceof Error ? err.message : String(err) });
      }
      await sleep(intervalMs, undefined, { signal: abort.signal }).catch(() => undefined);
    }
  })();
  return {
    async stop() {
      abort.abort();
      await done;
    },
  };
}
