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

export function guardTestbed(dir: string): Guard {
  const onExit = (): void => killTestbedNow(dir);
  const onSignal = (signal: NodeJS.Signals): void => {
    killTestbedNow(dir);
    release();
    // Die of the same signal, as the process would have without this handler.
    process.kill(process.pid, signal);
  };
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);

  const reaper = spawn(process.execPath, [REAPER, String(process.pid), dir], { detached: true, stdio: 'ignore' });
  reaper.unref();

  function release(): void {
    process.off('exit', onExit);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
  return { release };
}
