// Makes sure a test bed started by this process dies with it: on normal exit, on the signals
// that end a run (Ctrl-C, a CI timeout), and, through a detached reaper process, even on
// SIGKILL, where no handler of ours can run.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killTestbedNow } from './testbed.ts';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const REAPER = join(dirname(fileURLToPath(import.meta.url)), 'reaper.ts');

export interface Guard {
  release(): void;
}

/**
 * Runs `kill` (synchronous) on exit and on the signals that end a run, then dies of the same
 * signal; `reaper` is a script started detached with OWNER_PID and `reaperArgs`, which does the
 * same if this process is SIGKILLed. Shared by the test bed and the cluster.
 */
export function guardProcess(kill: () => void, reaper: string, reaperArgs: string[]): Guard {
  const onSignal = (signal: NodeJS.Signals): void => {
    kill();
    release();
    // Die of the same signal, as the process would have without this handler.
    process.kill(process.pid, signal);
  };
  process.on('exit', kill);
  for (const signal of SIGNALS) process.on(signal, onSignal);

  spawn(process.execPath, [reaper, String(process.pid), ...reaperArgs], { detached: true, stdio: 'ignore' }).unref();

  function release(): void {
    process.off('exit', kill);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
  return { release };
}

export function guardTestbed(dir: string): Guard {
  return guardProcess(() => killTestbedNow(dir), REAPER, [dir]);
}
