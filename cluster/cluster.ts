// `up`: the test bed's etcd + kube-apiserver, then a private containerd with our CNI config,
// kube-controller-manager, kube-scheduler and a kubelet that registers one node. Every step
// records what it started before it waits, so a start that fails half-way is taken down by
// the same code as `down`.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { httpsGet } from '../dev/testbed/https-probe.ts';
import { kubeConfigFrom, kubeconfigYaml } from '../dev/testbed/kubeconfig.ts';
import { isRunning, logTail, startDetached, stopProcess } from '../dev/testbed/processes.ts';
import type { ProcessRecord } from '../dev/testbed/processes.ts';
import { identityKubeconfigParts, readState as readTestbedState, startTestbed } from '../dev/testbed/testbed.ts';
import { ensureTestbedBinaries } from '../dev/testbed/tools.ts';
import { ensureClusterBinaries } from './binaries.ts';
import { bridgeOwner, createBridge, deleteBridge } from './bridge.ts';
import { createCgroupRoot, cgroupTreeExists } from './cgroups.ts';
import { CNI_CONF_FILE, cniConfig } from './cni-config.ts';
import { controllerManagerArgs, kubeletArgs, schedulerArgs } from './component-flags.ts';
import { containerdConfig } from './containerd-config.ts';
import { ClusterError } from './errors.ts';
import { importImageArchive } from './image-import.ts';
import { kubeletConfig } from './kubelet-config.ts';
import { exposeApiServerToPods } from './api-service.ts';
import { BRIDGE, CGROUP_ROOT, NODE_NAME, layout, marker } from './layout.ts';
import type { Layout } from './layout.ts';
import { liveCluster, tryLock } from './lock.ts';
import { ensurePauseImage } from './pause-image.ts';
import { readClusterState, writeClusterState } from './state.ts';
import type { ClusterState } from './state.ts';
import { killClusterNow, stopCluster } from './teardown.ts';

export interface StartClusterOptions {
  dir?: string;
  /** OCI archives (fully qualified reference names) to import into containerd. */
  images?: string[];
  log?: (line: string) => void;
  timeoutMs?: number;
}

export interface RunningCluster extends ClusterState {
  adminKubeConfig(): KubeConfig;
}

function refuseIfRunning(l: Layout): void {
  const result = tryLock(l);
  if (result.acquired) return;
  if (result.live) throw new ClusterError(`a cluster is already ${result.live} in ${l.dir}; stop it first with: npm run cluster -- down`);
  // A dead cluster's remains: clear them, then take the lock.
  killClusterNow(l);
  mkdirSync(l.dir, { recursive: true });
  const again = tryLock(l);
  if (!again.acquired) throw new ClusterError(`could not take the lock ${l.lock}: another start is racing this one`);
}

function claimBridge(l: Layout): void {
  const owner = bridgeOwner();
  if (owner === undefined) return;
  // Our own, from a start that died: we hold the lock, so it is stale.
  if (owner === l.dir) return deleteBridge();
  if (!owner) throw new ClusterError(`a device named ${BRIDGE} exists and is not a cluster's; remove it or free the name`);
  const state = liveCluster(layout(owner)) ? 'is running' : 'was not stopped';
  throw new ClusterError(`the cluster in ${owner} ${state} and owns ${BRIDGE} (one cluster per machine); run: npm run cluster -- down --dir ${owner}`);
}

async function waitFor(what: string, l: Layout, records: ProcessRecord[], timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    for (const record of records) {
      if (!isRunning(record.pid, marker(l))) throw new ClusterError(`${record.name} exited before ${what}; last lines of ${record.log}:\n${logTail(record.log)}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const logs = records.map((r) => `--- ${r.log}\n${logTail(r.log, 15)}`).join('\n');
      throw new ClusterError(`${what} timed out after ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}\n${logs}`);
    }
    await sleep(250);
  }
}

async function writeKubeconfig(l: Layout, name: string, user: string, groups: string[]): Promise<string> {
  const parts = await identityKubeconfigParts(l.controlPlane, { user, groups });
  const path = join(l.kubeconfigs, `${name}.kubeconfig`);
  writeFileSync(path, kubeconfigYaml(parts), { mode: 0o600 });
  return path;
}

/**
 * The test bed's API server is started without a client certificate for kubelets; restart it
 * once with one (and the same port, etcd and PKI), so logs and exec reach kubelet
 * authenticated. Removable if startTestbed takes extra API server flags.
 */
async function giveApiserverKubeletClient(l: Layout, timeoutMs: number): Promise<void> {
  const parts = await identityKubeconfigParts(l.controlPlane, { user: 'kube-apiserver-kubelet-client', groups: ['system:masters'] });
  const certFile = join(l.kubeconfigs, 'apiserver-kubelet-client.crt');
  const keyFile = join(l.kubeconfigs, 'apiserver-kubelet-client.key');
  writeFileSync(certFile, parts.certPem, { mode: 0o600 });
  writeFileSync(keyFile, parts.keyPem, { mode: 0o600 });
  const state = readTestbedState(l.controlPlane);
  const old = state?.processes.find((p) => p.name === 'kube-apiserver');
  if (!state || !old) throw new ClusterError('the control plane recorded no kube-apiserver');
  await stopProcess(old, `${l.controlPlane}/`);
  const extra = [
    `--kubelet-client-certificate=${certFile}`,
    `--kubelet-client-key=${keyFile}`,
    // The node's name is no DNS name: dial its address on the bridge, never ask a resolver.
    '--kubelet-preferred-address-types=InternalIP',
  ];
  const record = startDetached('kube-apiserver', old.bin, [...old.args, ...extra], old.log);
  state.processes = [...state.processes.filter((p) => p.name !== 'kube-apiserver'), record];
  writeFileSync(join(l.controlPlane, 'testbed.json'), `${JSON.stringify(state, null, 2)}\n`);
  const pki = (name: string): string => readFileSync(join(l.controlPlane, 'pki', name), 'utf8');
  const tls = { caPem: pki('ca.crt'), certPem: pki('admin.crt'), keyPem: pki('admin.key') };
  await waitFor('kube-apiserver /readyz', l, [record], timeoutMs, async () => (await httpsGet(`${state.server}/readyz`, tls)).status === 200);
}

async function startContainerd(l: Layout, state: ClusterState, sandboxImage: string, archive: string, timeoutMs: number): Promise<void> {
  mkdirSync(l.containerdDir, { recursive: true });
  mkdirSync(l.cniConfDir, { recursive: true });
  writeFileSync(join(l.cniConfDir, CNI_CONF_FILE), cniConfig(l));
  writeFileSync(l.containerdConfig, containerdConfig(l, sandboxImage));
  const record = startDetached('containerd', 'containerd', ['--config', l.containerdConfig], join(l.logs, 'containerd.log'));
  state.processes.push(record);
  writeClusterState(l, state);
  await waitFor('containerd socket', l, [record], timeoutMs, async () => existsSync(l.containerdSocket));
  await importImageArchive(archive, l.dir);
}

function withClients(state: ClusterState): RunningCluster {
  return {
    ...state,
    adminKubeConfig: () => {
      const pki = (name: string): string => readFileSync(join(state.dir, 'control-plane', 'pki', name), 'utf8');
      return kubeConfigFrom({ server: state.server, caPem: pki('ca.crt'), userName: 'testbed-admin', certPem: pki('admin.crt'), keyPem: pki('admin.key') });
    },
  };
}

export function openCluster(dir?: string): RunningCluster {
  const l = layout(dir);
  const state = readClusterState(l);
  if (!state) throw new ClusterError(`no cluster in ${l.dir} (start one with: npm run cluster -- up)`);
  return withClients(state);
}

export async function startCluster(options: StartClusterOptions = {}): Promise<RunningCluster> {
  const l = layout(options.dir);
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 120_000;
  for (const archive of options.images ?? []) if (!existsSync(archive)) throw new ClusterError(`image archive not found: ${archive}`);
  mkdirSync(l.dir, { recursive: true });
  refuseIfRunning(l);
  try {
    claimMachine(l);
  } catch (err) {
    // Refused before anything was made: give back the lock and the (empty) dir, nothing else.
    rmSync(l.lock, { force: true });
    rmdirIfEmpty(l.dir);
    throw err;
  }
  try {
    return await bringUp(l, options, log, timeoutMs);
  } catch (err) {
    log(`cluster: start failed, cleaning up: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    await stopCluster(l, log).catch(() => killClusterNow(l));
    throw err;
  }
}

function rmdirIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty or gone.
  }
}

/** One cluster per machine: the bridge and the cgroup root must be free (or our own stale ones). */
function claimMachine(l: Layout): void {
  claimBridge(l);
  if (cgroupTreeExists()) throw new ClusterError(`the cgroup tree /${CGROUP_ROOT} of another cluster exists on this machine (one cluster per machine)`);
}

async function bringUp(l: Layout, options: StartClusterOptions, log: (line: string) => void, timeoutMs: number): Promise<RunningCluster> {
  const [bins, testbedBins, pause] = await Promise.all([ensureClusterBinaries(log), ensureTestbedBinaries({ log }), ensurePauseImage(log)]);
  for (const sub of [l.logs, l.kubeconfigs, l.kubeletRoot, l.podLogs, l.cniIpamDir]) mkdirSync(sub, { recursive: true });
  const state: ClusterState = {
    dir: l.dir,
    server: '',
    kubeconfig: l.kubeconfig,
    kubernetesVersion: bins.kubernetesVersion,
    pauseImage: pause.ref,
    kubectl: bins.kubectl,
    processes: [],
  };
  writeClusterState(l, state);
  createCgroupRoot();
  createBridge(l.dir);

  // The control plane and containerd do not depend on each other: start both at once.
  const started = Date.now();
  const [testbed] = await Promise.all([
    startTestbed({ dir: l.controlPlane, binaries: testbedBins, log, readyTimeoutMs: timeoutMs }),
    startContainerd(l, state, pause.ref, pause.archive, timeoutMs),
  ]);
  state.server = testbed.server;
  writeClusterState(l, state);
  exposeApiServerToPods(Number(new URL(testbed.server).port));
  log(`cluster: control plane and containerd ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);

  await Promise.all([
    giveApiserverKubeletClient(l, timeoutMs),
    writeKubeconfig(l, 'kubelet', `system:node:${NODE_NAME}`, ['system:nodes']),
    writeKubeconfig(l, 'controller-manager', 'system:kube-controller-manager', []),
    writeKubeconfig(l, 'scheduler', 'system:kube-scheduler', []),
  ]);
  writeFileSync(l.kubeletConfig, kubeletConfig(l, join(l.controlPlane, 'pki', 'client-ca.crt')));
  const components: [string, string, string[]][] = [
    ['kube-controller-manager', bins.kubeControllerManager, controllerManagerArgs(l)],
    ['kube-scheduler', bins.kubeScheduler, schedulerArgs(l)],
    ['kubelet', bins.kubelet, kubeletArgs(l)],
  ];
  for (const [name, bin, args] of components) {
    state.processes.push(startDetached(name, bin, args, join(l.logs, `${name}.log`)));
    writeClusterState(l, state);
  }
  copyFileSync(testbed.kubeconfig, l.kubeconfig);
  const cluster = withClients(state);
  const core = cluster.adminKubeConfig().makeApiClient(CoreV1Api);
  await waitFor(`node ${NODE_NAME} Ready`, l, state.processes, timeoutMs, async () => {
    const node = await core.readNode({ name: NODE_NAME });
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  });
  // Pods are rejected until the controller manager has made the namespace's service account.
  await waitFor('default service account', l, state.processes, timeoutMs, async () => {
    await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
    return true;
  });
  for (const archive of options.images ?? []) {
    await importImageArchive(archive, l.dir, log);
    log(`cluster: imported ${archive}`);
  }
  log(`cluster: node ${NODE_NAME} Ready, ${bins.kubernetesVersion}, in ${((Date.now() - started) / 1000).toFixed(1)}s after the builds`);
  return cluster;
}
