// Ties a cluster to the process that started it (jest, a script): torn down on normal exit, on
// the signals that end a run and, through a detached reaper, even on SIGKILL.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layout } from './layout.ts';
import { killClusterNow } from './teardown.ts';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const REAPER = join(dirname(fileURLToPath(import.meta.url)), 'reaper.ts');

export interface ClusterGuard {
  release(): void;
}

export function guardCluster(dir?: string): ClusterGuard {
  const l = layout(dir);
  const onExit = (): void => killClusterNow(l);
  const onSignal = (signal: NodeJS.Signals): void => {
    killClusterNow(l);
    release();
    process.kill(process.pid, signal);
  };
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  const reaper = spawn(process.execPath, [REAPER, String(process.pid), l.dir], { detached: true, stdio: 'ignore' });
  reaper.unref();

  function release(): void {
    process.off('exit', onExit);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
  return { release };
}
