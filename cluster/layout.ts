// Where a cluster keeps everything and the fixed names it uses on the machine. Every path a
// cluster process is started with lies under the state directory, which is also how its
// processes, mounts and network namespaces are recognised later.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The default state directory: inside the checkout (git-ignored), so two checkouts never share one. */
export const DEFAULT_STATE_DIR = join(REPO_ROOT, '.tko', 'cluster');

/** One bridge per machine: its name is fixed, and its alias records which state directory owns it. */
export const BRIDGE = 'tko0';
export const POD_SUBNET = '10.244.0.0/24';
/** The node's own address on the bridge: kubelet listens here and pods reach the node here. */
export const NODE_IP = '10.244.0.1';
export const NODE_NAME = 'tko-node';
/** kubelet's cgroup root in every v1 hierarchy: everything the pods run in lives below it. */
export const CGROUP_ROOT = 'tko-cluster';
export const KUBELET_PORT = 10250;

export interface Layout {
  dir: string;
  lock: string;
  stateFile: string;
  kubeconfig: string;
  logs: string;
  controlPlane: string;
  kubeconfigs: string;
  containerdDir: string;
  containerdConfig: string;
  containerdSocket: string;
  cniConfDir: string;
  cniIpamDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  podLogs: string;
}

export function layout(stateDir: string = DEFAULT_STATE_DIR): Layout {
  const dir = resolve(stateDir);
  const containerdDir = join(dir, 'containerd');
  return {
    dir,
    lock: join(dir, 'cluster.lock'),
    stateFile: join(dir, 'cluster.json'),
    kubeconfig: join(dir, 'kubeconfig'),
    logs: join(dir, 'logs'),
    controlPlane: join(dir, 'control-plane'),
    kubeconfigs: join(dir, 'kubeconfigs'),
    containerdDir,
    containerdConfig: join(containerdDir, 'config.toml'),
    containerdSocket: join(containerdDir, 'containerd.sock'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    cniIpamDir: join(dir, 'cni', 'ipam'),
    kubeletRoot: join(dir, 'kubelet'),
    kubeletConfig: join(dir, 'kubelet-config.yaml'),
    podLogs: join(dir, 'pod-logs'),
  };
}

/** The string every process, mount and namespace of this cluster has in its path. */
export function marker(l: Layout): string {
  return `${l.dir}/`;
}
