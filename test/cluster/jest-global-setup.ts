// Jest global setup for the cluster project: builds (or finds) the binaries and the pause image
// and brings one real cluster up for the whole project, owned by this jest process (a guard and
// a reaper take it down if jest dies). Set TKO_CLUSTER_DIR to a cluster started with
// `npm run cluster -- up` to use that one instead (it is left running).
// The images built from the Dockerfile (cluster/images) are imported into its containerd.
// Workers get TKO_CLUSTER_DIR, TKO_CLUSTER_KUBECONFIG, TKO_CLUSTER_PAUSE_IMAGE, TKO_CLUSTER_KUBECTL
// and TKO_CLUSTER_IMAGES (JSON: image name → reference).
import { openCluster, startCluster } from '../../cluster/cluster.ts';
import { ensureImages } from '../../cluster/images/ensure-images.ts';
import { guardCluster } from '../../cluster/guard.ts';
import { layout } from '../../cluster/layout.ts';
import { killClusterNow } from '../../cluster/teardown.ts';
import { CLUSTER_GUARD_KEY, TEST_CLUSTER_DIR } from './jest-shared.ts';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function share(cluster: { dir: string; kubeconfig: string; pauseImage: string; kubectl: string }): void {
  process.env.TKO_CLUSTER_DIR = cluster.dir;
  process.env.TKO_CLUSTER_KUBECONFIG = cluster.kubeconfig;
  process.env.TKO_CLUSTER_PAUSE_IMAGE = cluster.pauseImage;
  process.env.TKO_CLUSTER_KUBECTL = cluster.kubectl;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.TKO_CLUSTER_DIR) {
    share(openCluster(process.env.TKO_CLUSTER_DIR));
    return;
  }
  const guard = guardCluster(TEST_CLUSTER_DIR);
  (globalThis as Record<symbol, unknown>)[CLUSTER_GUARD_KEY] = guard;
  const started = Date.now();
  let cluster;
  const images = await ensureImages({ log });
  process.env.TKO_CLUSTER_IMAGES = JSON.stringify(Object.fromEntries(images.map((i) => [i.name, i.ref])));
  log(`cluster: images ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  try {
    cluster = await startCluster({ dir: TEST_CLUSTER_DIR, images: images.map((i) => i.archive), log });
  } catch (err) {
    killClusterNow(layout(TEST_CLUSTER_DIR));
    guard.release();
    throw err;
  }
  log(`cluster: up in ${((Date.now() - started) / 1000).toFixed(1)}s (dir ${cluster.dir})`);
  share(cluster);
  process.env.TKO_CLUSTER_OWNER_PID = String(process.pid);
}
