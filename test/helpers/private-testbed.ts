// A test bed of the calling test file's own (for tests that restart or break the API server,
// which the shared test bed of the jest run must never see), started before the file's tests
// and stopped after them:
//
//   const testbed = usePrivateTestbed('watch-relist', { namespace: 'watch-relist' });
//   it('...', async () => { await restartApiserver(testbed.dir); testbed.kc ... });
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { guardTestbed, type Guard } from '../../dev/testbed/guard.ts';
import { startTestbed, stopTestbed } from '../../dev/testbed/testbed.ts';
import { ensureTestbedBinaries } from '../../dev/testbed/tools.ts';

/** Starting etcd and kube-apiserver (and fetching their binaries on a cold cache) takes a while. */
const START_TIMEOUT_MS = 240_000;

export interface PrivateTestbed {
  /** The test bed's directory (for restartApiserver and friends); set once beforeAll ran. */
  readonly dir: string;
  /** A KubeConfig for the test bed's admin (group system:masters); set once beforeAll ran. */
  readonly kc: KubeConfig;
}

export function usePrivateTestbed(name: string, options: { namespace?: string } = {}): PrivateTestbed {
  let dir: string | undefined;
  let kc: KubeConfig | undefined;
  let guard: Guard | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `tko-testbed-${name}-`));
    guard = guardTestbed(dir);
    const testbed = await startTestbed({ dir, binaries: await ensureTestbedBinaries() });
    kc = testbed.adminKubeConfig();
    if (options.namespace) await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: options.namespace } } });
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    if (dir) await stopTestbed(dir);
    guard?.release();
  });
  return {
    get dir() {
      if (!dir) throw new Error(`private test bed ${name} is not started (use it inside tests or hooks)`);
      return dir;
    },
    get kc() {
      if (!kc) throw new Error(`private test bed ${name} is not started (use it inside tests or hooks)`);
      return kc;
    },
  };
}
