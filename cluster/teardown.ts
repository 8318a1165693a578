// Taking a cluster down, gracefully (`down`, a failed `up`) or at once (exit and signal handlers,
// the reaper). Either way nothing of it may remain: no process, no mount, no network namespace,
// veth or bridge, no cgroup, no file. The graceful path lets containerd run CNI DEL for every pod
// first; the forced path relies on the kernel dropping a namespace (and its veth) with its last
// process and mount.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunning, stopProcess } from '../dev/testbed/processes.ts';
import { killTestbedNow, stopTestbed } from '../dev/testbed/testbed.ts';
import { apiServiceRules, removeApiServiceRules } from './api-service.ts';
import { bridgeOwner, deleteBridge } from './bridge.ts';
import { cgroupPids, removeCgroupRoot } from './cgroups.ts';
import { removeAllPodSandboxes } from './cri.ts';
import { ClusterError } from './errors.ts';
import { marker } from './layout.ts';
import type { Layout } from './layout.ts';
import { mountsUnder, unmountUnder } from './mounts.ts';
import { readClusterState } from './state.ts';

/** Everything `up` creates inside the state dir, besides the lock. */
const OWNED_ENTRIES = ['cluster.json', 'kubeconfig', 'logs', 'control-plane', 'kubeconfigs', 'containerd', 'cni', 'kubelet', 'kubelet-config.yaml', 'pod-logs'];

/** kubelet's fixed directory of per-container log symlinks (not configurable). */
const CONTAINER_LOG_LINKS = '/var/log/containers';

/**
 * Directories our components create at fixed paths (shim sockets, libcni's cache, kubelet's
 * device-plugin dir, its log links). Removed only when empty, children first: another
 * runtime on the machine may use them too.
 */
const FIXED_DIRS = ['/run/containerd/s', '/run/containerd', '/var/lib/cni/results', '/var/lib/cni', '/var/lib/kubelet/device-plugins', '/var/lib/kubelet', CONTAINER_LOG_LINKS];

/** kubelet's device-plugin registration socket, at a path kubelet does not let us move. */
export const KUBELET_DEVICE_SOCKET = '/var/lib/kubelet/device-plugins/kubelet.sock';

/** Removes the socket once nothing listens on it any more (our kubelet is dead by now). */
function removeStaleKubeletSocket(): void {
  try {
    if (!statSync(KUBELET_DEVICE_SOCKET).isSocket()) return;
    if (readFileSync('/proc/net/unix', 'utf8').split('\n').some((line) => line.endsWith(` ${KUBELET_DEVICE_SOCKET}`))) return;
    unlinkSync(KUBELET_DEVICE_SOCKET);
  } catch {
    // Absent.
  }
}

function removeEmptyFixedDirs(): void {
  removeStaleKubeletSocket();
  for (const dir of FIXED_DIRS) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty (in use by someone else) or absent.
    }
  }
}

function ancestors(): Set<number> {
  const pids = new Set<number>([process.pid]);
  let pid = process.ppid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return pids;
}

/**
 * Every process of this cluster: anything whose command line names a path under the state dir
 * (control plane, containerd, its shims, kubelet) plus whatever runs in kubelet's cgroup tree
 * (containers). This process and its ancestors are spared (their arguments may name the dir).
 */
export function clusterPids(l: Layout): number[] {
  const spare = ancestors();
  const found = new Set<number>(ownsMachineState(l) ? cgroupPids() : []);
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || spare.has(pid)) continue;
    if (isRunning(pid, marker(l))) found.add(pid);
  }
  for (const pid of spare) found.delete(pid);
  return [...found].filter((pid) => existsSync(`/proc/${pid}`));
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function removeLogLinks(l: Layout): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(CONTAINER_LOG_LINKS);
  } catch {
    return;
  }
  for (const name of entries) {
    const path = join(CONTAINER_LOG_LINKS, name);
    try {
      if (readlinkSync(path).startsWith(marker(l))) unlinkSync(path);
    } catch {
      // Not a link, or gone.
    }
  }
}

/**
 * The machine-wide pieces (cgroup tree, kubelet's fixed paths) are this cluster's only if the
 * bridge is ours or gone: a refused second `up` elsewhere must not touch a running cluster's.
 */
function ownsMachineState(l: Layout): boolean {
  const owner = bridgeOwner();
  return owner === undefined || owner === l.dir;
}

/** The part both paths share once every process is gone: mounts, links, bridge, cgroups, files. */
function removeHostState(l: Layout): void {
  const leftMounts = unmountUnder(marker(l));
  removeLogLinks(l);
  if (ownsMachineState(l)) {
    if (bridgeOwner() === l.dir) deleteBridge();
    removeApiServiceRules();
    removeEmptyFixedDirs();
    for (let i = 0; i < 30 && removeCgroupRoot().length > 0; i++) sleepSync(100);
  }
  // Never remove files through a mount that would not go: that could reach outside the dir.
  if (leftMounts.length > 0) throw new ClusterError(`could not unmount ${leftMounts.join(', ')}; state dir ${l.dir} kept`);
  if (existsSync(l.dir)) {
    // Only what `up` makes (a --dir that holds other files keeps them); the lock goes last.
    for (const entry of OWNED_ENTRIES) rmSync(join(l.dir, entry), { recursive: true, force: true });
    rmSync(l.lock, { force: true });
    try {
      rmdirSync(l.dir);
    } catch {
      // Not empty (someone else's files) or already gone.
    }
  }
}

/** Stops everything gracefully, in the reverse order of `up`. */
export async function stopCluster(l: Layout, log: (line: string) => void = () => {}): Promise<void> {
  const state = readClusterState(l);
  const byName = (name: string) => state?.processes.find((p) => p.name === name);
  for (const name of ['kubelet', 'kube-scheduler', 'kube-controller-manager']) {
    const record = byName(name);
    if (record) await stopProcess(record, marker(l));
  }
  const containerd = byName('containerd');
  if (containerd && isRunning(containerd.pid, marker(l))) {
    try {
      const removed = await removeAllPodSandboxes(l.containerdSocket);
      log(`cluster: removed ${removed} pod sandbox(es)`);
    } catch (err) {
      log(`cluster: could not remove pod sandboxes through the CRI (${err instanceof Error ? err.message : String(err)}); killing them`);
    }
    await stopProcess(containerd, marker(l));
  }
  // Shims and containers a crashed runtime left behind.
  for (let i = 0; i < 50; i++) {
    const left = clusterPids(l).filter((pid) => !isControlPlane(l, pid));
    if (left.length === 0) break;
    killAll(left);
    await sleep(100);
  }
  if (existsSync(join(l.controlPlane, 'testbed.json'))) await stopTestbed(l.controlPlane);
  for (let i = 0; i < 50 && clusterPids(l).length > 0; i++) {
    killAll(clusterPids(l));
    await sleep(100);
  }
  removeHostState(l);
}

function isControlPlane(l: Layout, pid: number): boolean {
  return isRunning(pid, `${l.controlPlane}/`);
}

/** For exit and signal handlers and the reaper, which cannot wait: SIGKILL everything, then clean. */
export function killClusterNow(l: Layout): void {
  for (let i = 0; i < 50; i++) {
    const pids = clusterPids(l);
    if (pids.length === 0) break;
    killAll(pids);
    sleepSync(100);
  }
  try {
    killTestbedNow(l.controlPlane);
  } catch {
    // Its processes are dead already; the files go below.
  }
  removeHostState(l);
}

/** What a stopped cluster may not leave behind; empty when clean. */
export function leftovers(l: Layout): string[] {
  const found: string[] = [];
  const pids = clusterPids(l);
  if (pids.length) found.push(`processes ${pids.join(', ')}`);
  const mounts = mountsUnder(marker(l));
  if (mounts.length) found.push(`mounts ${mounts.join(', ')}`);
  if (bridgeOwner() === l.dir) found.push('bridge');
  if (apiServiceRules().length) found.push(`iptables rules ${apiServiceRules().join('; ')}`);
  return found;
}
