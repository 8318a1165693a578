// Jest global setup for the integration and e2e projects: one real test bed per jest run.
// Jest calls this once per project, so the first call starts the test bed and records itself
// as the owner in the environment (inherited by the workers); later calls reuse it.
// Set TKO_TESTBED_DIR to a test bed started with `npm run testbed -- up` to reuse that one.
// Workers get TKO_TEST_KUBECONFIG (the admin), TKO_TESTBED_DIR (for kubeConfigFor and
// restarts) and TKO_TESTBED_BIN (kube-apiserver, etcd, helm).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { guardTestbed } from '../../dev/testbed/guard.ts';
import { killTestbedNow, readState, startTestbed } from '../../dev/testbed/testbed.ts';
import { ensureTestbedBinaries } from '../../dev/testbed/tools.ts';
import { GUARD_KEY } from './jest-shared.ts';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export default async function globalSetup(): Promise<void> {
  if (process.env.TKO_TESTBED_DIR) {
    const state = readState(process.env.TKO_TESTBED_DIR);
    if (!state) throw new Error(`TKO_TESTBED_DIR=${process.env.TKO_TESTBED_DIR} holds no running test bed (start one with: npm run testbed -- up --dir DIR)`);
    process.env.TKO_TEST_KUBECONFIG = state.kubeconfig;
    process.env.TKO_TESTBED_BIN ??= (await ensureTestbedBinaries({ log })).binDir;
    return;
  }
  const binaries = await ensureTestbedBinaries({ log });
  const dir = resolve(mkdtempSync(join(tmpdir(), 'tko-testbed-')));
  const guard = guardTestbed(dir);
  // Setup and teardown run in the same jest process but may not share module instances.
  (globalThis as Record<symbol, unknown>)[GUARD_KEY] = guard;
  const started = Date.now();
  let testbed;
  try {
    testbed = await startTestbed({ dir, binaries, log });
  } catch (err) {
    killTestbedNow(dir);
    guard.release();
    throw err;
  }
  log(`testbed: up in ${((Date.now() - started) / 1000).toFixed(1)}s at ${testbed.server} (dir ${dir})`);
  process.env.TKO_TESTBED_DIR = dir;
  process.env.TKO_TEST_KUBECONFIG = testbed.kubeconfig;
  process.env.TKO_TESTBED_OWNER_PID = String(process.pid);
  // kube-apiserver, etcd and helm, for tests that run them (helm for the chart tests).
  process.env.TKO_TESTBED_BIN = binaries.binDir;
}
