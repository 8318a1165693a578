// Ties a cluster to the process that started it (jest, a script): torn down on normal exit, on
// the signals that end a run and, through a detached reaper, even on SIGKILL.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guardProcess, type Guard } from '../dev/testbed/guard.ts';
import { layout } from './layout.ts';
import { killClusterNow } from './teardown.ts';

const REAPER = join(dirname(fileURLToPath(import.meta.url)), 'reaper.ts');

export type ClusterGuard = Guard;

export function guardCluster(dir?: string): ClusterGuard {
  const l = layout(dir);
  return guardProcess(() => killClusterNow(l), REAPER, [l.dir]);
}
