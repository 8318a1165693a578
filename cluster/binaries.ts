// Builds kubelet, kube-controller-manager, kube-scheduler and kubectl from the test bed's own
// Go module (the one that pins k8s.io/kubernetes for kube-apiserver), stamped with the same
// version, into a cache directory keyed by every input. The build runs in a copy of go.mod and
// go.sum: -mod=mod adds go.sum lines for the node packages, and the repo's go.sum feeds the
// test bed's own cache key, which must not move.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { goBinary, goVersion, requiredVersion, run } from '../dev/testbed/tools.ts';
import { REPO_ROOT } from './layout.ts';

const KUBE_MODULE = join(REPO_ROOT, 'dev', 'testbed', 'tools', 'kube');
const COMMANDS = ['kubelet', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;

export interface ClusterBinaries {
  binDir: string;
  kubelet: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kubernetesVersion: string;
}

export function clusterCacheRoot(): string {
  return process.env.TKO_CLUSTER_CACHE ?? join(homedir(), '.cache', 'ticket-key-operator', 'cluster');
}

function plan(): { version: string; ldflags: string } {
  const version = requiredVersion(join(KUBE_MODULE, 'go.mod'), 'k8s.io/kubernetes');
  const [, major, minor] = /^v(\d+)\.(\d+)/.exec(version) ?? [];
  // The same stamps as the test bed's kube-apiserver, so node info and `kubectl version` are true.
  const stamps = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ]);
  return { version, ldflags: ['-s', '-w', ...stamps].join(' ') };
}

function cacheKey(go: string): string {
  const { version, ldflags } = plan();
  const hash = createHash('sha256').update(goVersion(go)).update(ldflags).update(COMMANDS.join(','));
  for (const file of ['go.mod', 'go.sum']) hash.update(file).update(readFileSync(join(KUBE_MODULE, file)));
  return `k8s-${version}_${hash.digest('hex').slice(0, 12)}`;
}

function binariesIn(binDir: string, kubernetesVersion: string): ClusterBinaries {
  return {
    binDir,
    kubelet: join(binDir, 'kubelet'),
    kubeControllerManager: join(binDir, 'kube-controller-manager'),
    kubeScheduler: join(binDir, 'kube-scheduler'),
    kubectl: join(binDir, 'kubectl'),
    kubernetesVersion,
  };
}

/** The cached binaries, building them first if any is missing (into a staging dir, then renamed). */
export async function ensureClusterBinaries(log: (line: string) => void = () => {}): Promise<ClusterBinaries> {
  const go = goBinary();
  const keyDir = join(clusterCacheRoot(), cacheKey(go));
  const { version, ldflags } = plan();
  const bins = binariesIn(join(keyDir, 'bin'), version);
  if (COMMANDS.every((name) => existsSync(join(bins.binDir, name)))) return bins;

  const staging = join(keyDir, `build.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'module'), { recursive: true });
  for (const file of ['go.mod', 'go.sum']) copyFileSync(join(KUBE_MODULE, file), join(staging, 'module', file));
  log(`cluster: building ${COMMANDS.join(', ')} ${version} …`);
  const started = Date.now();
  try {
    await run(
      go,
      ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', `${join(staging, 'out')}/`, ...COMMANDS.map((c) => `k8s.io/kubernetes/cmd/${c}`)],
      join(staging, 'module'),
      { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod -buildvcs=false' },
      log,
    );
    mkdirSync(bins.binDir, { recursive: true });
    for (const name of COMMANDS) renameSync(join(staging, 'out', name), join(bins.binDir, name));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  log(`cluster: built ${COMMANDS.length} binaries in ${Math.round((Date.now() - started) / 1000)}s`);
  return bins;
}
