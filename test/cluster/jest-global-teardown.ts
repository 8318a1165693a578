// Jest global teardown for the cluster project: takes down the cluster the setup started (not
// one handed in through TKO_CLUSTER_DIR) and fails the run if anything of it is left: process,
// mount, network namespace, veth, bridge, cgroup, iptables chain, file. Then, with the machine
// free again, a second instance started by the CLI fails at its last step (a corrupt image
// archive, after the node is Ready) and must clean up the same way.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, layout } from '../../cluster/layout.ts';
import type { ClusterGuard } from '../../cluster/guard.ts';
import { stopCluster } from '../../cluster/teardown.ts';
import { CLUSTER_GUARD_KEY } from './jest-shared.ts';
import { hostLeftovers } from './leftovers.ts';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.TKO_CLUSTER_DIR;
  if (!dir || process.env.TKO_CLUSTER_OWNER_PID !== String(process.pid)) return;
  delete process.env.TKO_CLUSTER_OWNER_PID;
  const l = layout(dir);
  const started = Date.now();
  try {
    await stopCluster(l, (line) => process.stderr.write(`${line}\n`));
  } finally {
    const registry = globalThis as Record<symbol, unknown>;
    (registry[CLUSTER_GUARD_KEY] as ClusterGuard | undefined)?.release();
    delete registry[CLUSTER_GUARD_KEY];
  }
  process.stderr.write(`cluster: down in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  const left = hostLeftovers(l);
  if (existsSync(l.dir)) left.push(`state dir ${l.dir}`);
  if (left.length) throw new Error(`the cluster left behind: ${left.join('; ')}`);
  failedStartLeavesNothing();
}

function failedStartLeavesNothing(): void {
  const scratch = mkdtempSync(join(tmpdir(), 'tko-cluster-'));
  const archive = join(scratch, 'corrupt.oci.tar');
  writeFileSync(archive, 'not an image archive');
  const l = layout(join(REPO_ROOT, '.tko', 'cluster-test-failing'));
  try {
    const run = spawnSync(process.execPath, [join(REPO_ROOT, 'cluster', 'cli.ts'), 'up', '--quiet', '--dir', l.dir, '--image', archive], { encoding: 'utf8', timeout: 180_000 });
    if (run.status !== 1 || !/start failed, cleaning up/.test(run.stderr)) {
      throw new Error(`a start with a corrupt image archive should fail and clean up; exit ${run.status}, stderr:\n${run.stderr}`);
    }
    const left = hostLeftovers(l);
    if (existsSync(l.dir)) left.push(`state dir ${l.dir}`);
    if (left.length) throw new Error(`a failed start left behind: ${left.join('; ')}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
