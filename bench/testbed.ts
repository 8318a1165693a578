// A benchmark's own test bed (kube-apiserver + etcd) in a fresh `dir`: the directory and the
// test bed are registered for clean-up before anything else, so a failed run leaves neither.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestbed, stopTestbed, type Testbed } from '../dev/testbed/testbed.ts';
import { ensureTestbedBinaries } from '../dev/testbed/tools.ts';
import type { BenchCleanups } from './cleanups.ts';

export async function startBenchTestbed(dir: string, log: (line: string) => void, cleanups: BenchCleanups): Promise<Testbed> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const binaries = await ensureTestbedBinaries({ log });
  const testbed = await startTestbed({ dir: join(dir, 'testbed'), binaries, log });
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  cleanups.push(() => stopTestbed(testbed.dir));
  return testbed;
}
