// The project's own cluster, for real: kubelet registers a Ready node with the stamped version,
// the scheduler places pods, CNI gives each its own network namespace and an address in the pod
// subnet, containers run and their logs come back through the API (API server → kubelet), the
// controller manager turns a Deployment into a ReplicaSet and pods, and the node reaches a pod
// at its address. A second `up` in the same state dir is refused without harming the first.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, beforeAll } from '@jest/globals';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { CGROUP_ROOT, NODE_IP, NODE_NAME, POD_SUBNET, REPO_ROOT } from '../../cluster/layout.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this file in the jest project "cluster"`);
  return value;
};

const NS = 'default';
const SUBNET_PREFIX = POD_SUBNET.replace(/\.0\/24$/, '.');

let core: CoreV1Api;
let apps: AppsV1Api;
let image: string;

beforeAll(() => {
  const kc = new KubeConfig();
  kc.loadFromFile(env('TKO_CLUSTER_KUBECONFIG'));
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  image = env('TKO_CLUSTER_PAUSE_IMAGE');
});

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(`${what}: timed out${last ? ` (${last})` : ''}`);
}

async function runningPod(name: string): Promise<V1Pod> {
  return waitFor(`pod ${name} Running`, 60_000, async () => {
    const pod = await core.readNamespacedPod({ name, namespace: NS });
    return pod.status?.phase === 'Running' && pod.status.podIP ? pod : undefined;
  });
}

/** The host pid of a container process: found by its command line inside kubelet's cgroup tree. */
function containerPid(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cgroup.includes(`/${CGROUP_ROOT}/`) && cmdline.includes(needle)) return pid;
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

describe('the single-node cluster', () => {
  it('has one Ready node with the stamped kubelet version at the bridge address', async () => {
    const node = await core.readNode({ name: NODE_NAME });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(node.status?.nodeInfo?.kubeletVersion).not.toBe('v0.0.0-master');
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: NODE_IP });
    const version = spawnSync(env('TKO_CLUSTER_KUBECTL'), ['--kubeconfig', env('TKO_CLUSTER_KUBECONFIG'), 'version', '-o', 'json'], { encoding: 'utf8' });
    const versions = JSON.parse(version.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    expect(versions.serverVersion.gitVersion).toBe(node.status?.nodeInfo?.kubeletVersion);
    expect(versions.clientVersion.gitVersion).toBe(versions.serverVersion.gitVersion);
  });

  it('schedules a pod, gives it its own network namespace and a subnet address, runs it, serves its log, and the node reaches it', async () => {
    const name = 'web';
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'web',
              image,
              imagePullPolicy: 'Never',
              // Prints what the pod sees of its network, then serves files over HTTP.
              command: ['/bin/sh', '-c', 'echo hello-from-pod; ip -o -4 addr show; ip -4 route; mkdir -p /www; echo pong > /www/ping; exec httpd -f -p 8080 -h /www'],
            },
          ],
        },
      },
    });
    const pod = await runningPod(name);
    expect(pod.spec?.nodeName).toBe(NODE_NAME);
    const podIp = pod.status?.podIP ?? '';
    expect(podIp.startsWith(SUBNET_PREFIX)).toBe(true);
    expect(podIp).not.toBe(NODE_IP);

    // The container runs in a network namespace other than the node's.
    const pid = await waitFor('httpd process', 10_000, async () => containerPid('httpd -f -p 8080'));
    expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));

    // The log comes through the API server from kubelet; it shows the pod's address and routes.
    const podLog = await waitFor('pod log', 15_000, async () => {
      const text = await core.readNamespacedPodLog({ name, namespace: NS });
      return text.includes('hello-from-pod') && text.includes(podIp) ? text : undefined;
    });
    expect(podLog).toContain(`inet ${podIp}/24`);
    // Only the subnet's own route: no default route off the node.
    expect(podLog).not.toMatch(/^default /m);

    // The node reaches the pod at its address (a pod address of this cluster, nothing else).
    const body = await waitFor('HTTP from the pod', 15_000, async () => {
      const res = await fetch(`http://${podIp}:8080/ping`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? res.text() : undefined;
    });
    expect(body.trim()).toBe('pong');

    await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
  });

  it('turns a Deployment into a ReplicaSet and running pods', async () => {
    const name = 'sleepers';
    const labels = { app: name };
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'sleep', image, imagePullPolicy: 'Never' }] },
          },
        },
      },
    });
    const rs = await waitFor('ReplicaSet', 30_000, async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: `app=${name}` });
      return list.items.find((r) => r.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name));
    });
    expect(rs.spec?.replicas).toBe(2);
    const pods = await waitFor('2 running pods', 60_000, async () => {
      const list = await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${name}` });
      const running = list.items.filter((p) => p.status?.phase === 'Running' && p.status.podIP);
      return running.length === 2 ? running : undefined;
    });
    const ips = pods.map((p) => p.status?.podIP ?? '');
    expect(new Set(ips).size).toBe(2);
    for (const ip of ips) expect(ip.startsWith(SUBNET_PREFIX)).toBe(true);
    const deployment = await waitFor('Deployment available', 30_000, async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace: NS });
      return d.status?.availableReplicas === 2 ? d : undefined;
    });
    expect(deployment.status?.readyReplicas).toBe(2);
    await apps.deleteNamespacedDeployment({ name, namespace: NS });
  });

  it('refuses a second `up` in the same state dir with one line, and leaves the running cluster alone', async () => {
    const dir = env('TKO_CLUSTER_DIR');
    const kubeconfig = env('TKO_CLUSTER_KUBECONFIG');
    const before = { text: readFileSync(kubeconfig, 'utf8'), mtime: statSync(kubeconfig).mtimeMs, lock: readFileSync(join(dir, 'cluster.lock'), 'utf8') };
    const second = spawnSync(process.execPath, [join(REPO_ROOT, 'cluster', 'cli.ts'), 'up', '--dir', dir], { encoding: 'utf8', timeout: 60_000 });
    expect(second.status).toBe(1);
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^cluster: a cluster is already running .* in .*; stop it first with: npm run cluster -- down$/);
    expect(second.stderr).not.toMatch(/\bat .*\.ts:\d+/);
    expect(readFileSync(kubeconfig, 'utf8')).toBe(before.text);
    expect(statSync(kubeconfig).mtimeMs).toBe(before.mtime);
    expect(readFileSync(join(dir, 'cluster.lock'), 'utf8')).toBe(before.lock);
    const node = await core.readNode({ name: NODE_NAME });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('refuses a second cluster in another state dir (one per machine) and leaves the first alone', async () => {
    const other = join(REPO_ROOT, '.tko', 'cluster-test-second');
    const second = spawnSync(process.execPath, [join(REPO_ROOT, 'cluster', 'cli.ts'), 'up', '--dir', other], { encoding: 'utf8', timeout: 60_000 });
    expect(second.status).toBe(1);
    expect(second.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^cluster: the cluster in .* is running and owns tko0 \(one cluster per machine\)/)]);
    expect(existsSync(other)).toBe(false);
    // Its clean-up must not have touched the running cluster's cgroups, bridge or pods.
    expect(existsSync(`/sys/fs/cgroup/memory/${CGROUP_ROOT}/kubepods`)).toBe(true);
    const node = await core.readNode({ name: NODE_NAME });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('answers a bad option with one line', () => {
    const bad = spawnSync(process.execPath, [join(REPO_ROOT, 'cluster', 'cli.ts'), 'up', '--bogus'], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain("unknown option '--bogus'");
  });
});
