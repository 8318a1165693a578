// The way users meet the operator, on the project's real cluster (kubelet, containerd, images
// built from the Dockerfile): `helm install` of the chart, then `kubectl apply` of exactly the
// files in examples/. ATS pods run our plugin and the agent sidecar with the certificate the
// operator's PKI wrote; kubelet keeps each pod NotReady until the operator set its readiness
// gate; a real TLS client resumes across the pods' addresses through rotations without one
// failure; newcomers from a scale-up are gated the same way; an edit of the ATS ConfigMap reaches
// every pod through kubelet and the agents' reload without touching the keys; a rolling restart
// and a pod deleted mid-promotion cost no resumption; the leader's pod is deleted and the other
// replica takes over without a second rotation; `helm upgrade` and `helm uninstall` leave what
// docs/install.md says.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Watch, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ATS_TLS_PORT as TLS_PORT,
  clusterTools,
  DEFAULT_IMAGES,
  deployAtsExample,
  helm as helmWith,
  installOperator,
  kubectl as kubectlWith,
  OPERATOR_NAMESPACE,
  RELEASE,
  SERVERNAME,
  type ClusterTools,
} from '../../cluster/demo.ts';
import { REPO_ROOT } from '../../cluster/layout.ts';
import { ANNOTATION_ROTATE_NOW, GROUP, PLURAL, READINESS_GATE_CONDITION_TYPE, VERSION } from '../../src/api/names.ts';
import type { TicketKeySet } from '../../src/api/index.ts';
import { configFilesHash, configMapFiles } from '../../src/core/ats-config/config-hash.ts';
import { GENERATION_ANNOTATION, PHASE_ANNOTATION } from '../../src/core/secret-format.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this file in the jest project "cluster"`);
  return value;
};
const NS = 'demo';
const OP_NS = OPERATOR_NAMESPACE;

let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
let tools: ClusterTools;
let images: { tko: string; ats: string };
const helm = (...args: string[]) => helmWith(tools, ...args);
const kubectl = (...args: string[]) => kubectlWith(tools, ...args);

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}

const tks = async (): Promise<TicketKeySet> => (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: NS, name: 'edge' })) as TicketKeySet;
const condition = (pod: V1Pod, type: string) => pod.status?.conditions?.find((c) => c.type === type);
const atsPods = async () => (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app.kubernetes.io/name=ats' })).items.filter((p) => !p.metadata?.deletionTimestamp);
const readyIps = async () =>
  (await atsPods())
    .filter((p) => condition(p, 'Ready')?.status === 'True' && p.status?.podIP)
    .map((p) => p.status!.podIP!)
    .sort();
const settled = (t: TicketKeySet, pods: number) =>
  t.status?.phase === 'Stable' && t.status?.pods?.summary === `${pods}/${pods}` && t.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** A TLS 1.3 client going round-robin over the Ready pods, always offering its last session. */
class ResumingClient {
  session: Buffer | undefined;
  private next = 0;
  readonly tally = { resumed: 0, failed: 0, fresh: 0, errors: 0 };
  readonly failures: string[] = [];
  async probeOnce(ips: string[]): Promise<void> {
    const host = ips[this.next++ % ips.length]!;
    const offered = this.session;
    const r = await tlsProbe({ host, port: TLS_PORT, tls: '1.3', servername: SERVERNAME, ...(offered ? { session: offered } : {}), timeoutMs: 5000 }).catch(() => undefined);
    if (!r) {
      this.tally.errors++;
      return;
    }
    if (!offered) this.tally.fresh++;
    else if (r.resumed) this.tally.resumed++;
    else {
      this.tally.failed++;
      this.failures.push(`${host} at ${new Date().toISOString()}`);
    }
    this.session = r.newSession ?? this.session;
  }
}

beforeAll(async () => {
  kc = new KubeConfig();
  kc.loadFromFile(env('TKO_CLUSTER_KUBECONFIG'));
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  tools = await clusterTools({ kubeconfig: env('TKO_CLUSTER_KUBECONFIG'), kubectl: env('TKO_CLUSTER_KUBECTL') });
  images = process.env.TKO_CLUSTER_IMAGES ? (JSON.parse(process.env.TKO_CLUSTER_IMAGES) as { tko: string; ats: string }) : DEFAULT_IMAGES;
}, 600_000);

afterAll(async () => {
  // The cluster goes with the project's teardown; leave nothing of ours for the next file.
  await helm('uninstall', RELEASE, '--namespace', OP_NS, '--wait', '--timeout', '60s').catch(() => {});
  await core.deleteNamespace({ name: NS }).catch(() => {});
});

describe('helm install and the examples on a real cluster', () => {
  it('helm install: two operator pods become Ready, one holds the Lease, the PKI made its CA', async () => {
    await installOperator(tools, images.tko);
    const deployment = await apps.readNamespacedDeployment({ namespace: OP_NS, name: `${RELEASE}-ticket-key-operator` });
    expect(deployment.status?.readyReplicas).toBe(2);
    const lease = await until('a leader', 60_000, async () => (await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: OP_NS, name: `${RELEASE}-ticket-key-operator` })).spec?.holderIdentity || undefined);
    const pods = (await core.listNamespacedPod({ namespace: OP_NS })).items.map((p) => p.metadata!.name!);
    expect(pods.some((p) => lease.startsWith(`${p}_`))).toBe(true);
    await until('the agent CA Secret', 60_000, () => core.readNamespacedSecret({ namespace: OP_NS, name: `${RELEASE}-ticket-key-operator-agent-ca` }));
  }, 240_000);

  it('kubectl apply -f examples/: ATS pods become Ready only after the operator set their readiness gate', async () => {
    await deployAtsExample(tools, kc, NS, images);
    await kubectl('apply', '-n', NS, '-f', join(REPO_ROOT, 'examples', 'ticketkeyset-ats.yaml'));
    const t = await until('edge Ready with 3/3', 180_000, async () => {
      const current = await tks();
      return settled(current, 3) ? current : undefined;
    });
    expect(t.status?.keyGeneration).toBeGreaterThanOrEqual(1);
    const pods = await until('3 Ready ATS pods', 60_000, async () => {
      const p = await atsPods();
      return p.length === 3 && p.every((x) => condition(x, 'Ready')?.status === 'True') ? p : undefined;
    });
    for (const pod of pods) {
      expect(pod.spec?.readinessGates).toEqual([{ conditionType: READINESS_GATE_CONDITION_TYPE }]);
      const gate = condition(pod, READINESS_GATE_CONDITION_TYPE);
      const ready = condition(pod, 'Ready');
      expect(gate?.status).toBe('True');
      // kubelet turned the pod Ready no earlier than the operator set the gate.
      expect(Date.parse(String(ready!.lastTransitionTime))).toBeGreaterThanOrEqual(Date.parse(String(gate!.lastTransitionTime)));
    }
  }, 300_000);

  it('a TLS client resumes across the pods through 3 rotations without a failure', async () => {
    const client = new ResumingClient();
    const ips = await readyIps();
    expect(ips).toHaveLength(3);
    for (let i = 0; i < 6; i++) await client.probeOnce(ips);
    for (let rotation = 1; rotation <= 3; rotation++) {
      const before = (await tks()).status?.keyGeneration ?? 0;
      await kubectl('annotate', '-n', NS, 'tks', 'edge', `${ANNOTATION_ROTATE_NOW}=cluster-${rotation}`, '--overwrite');
      for (let done = false; !done; ) {
        await client.probeOnce(ips);
        const t = await tks();
        done = (t.status?.keyGeneration ?? 0) > before && settled(t, 3) === true;
      }
      for (let i = 0; i < 6; i++) await client.probeOnce(ips);
    }
    expect(client.failures).toEqual([]);
    expect(client.tally.resumed).toBeGreaterThanOrEqual(30);
  }, 300_000);

  it('scales up (the newcomer is gated until it holds the ring) and down', async () => {
    await kubectl('scale', '-n', NS, 'deployment/ats', '--replicas=4');
    await until('edge Ready with 4/4', 180_000, async () => (settled(await tks(), 4) ? true : undefined));
    const pods = await until('4 Ready ATS pods', 60_000, async () => {
      const p = await atsPods();
      return p.length === 4 && p.every((x) => condition(x, 'Ready')?.status === 'True') ? p : undefined;
    });
    for (const pod of pods) {
      const gate = condition(pod, READINESS_GATE_CONDITION_TYPE)!;
      expect(Date.parse(String(condition(pod, 'Ready')!.lastTransitionTime))).toBeGreaterThanOrEqual(Date.parse(String(gate.lastTransitionTime)));
    }
    const client = new ResumingClient();
    const ips = await readyIps();
    for (let i = 0; i < 8; i++) await client.probeOnce(ips);
    expect(client.failures).toEqual([]);
    await kubectl('scale', '-n', NS, 'deployment/ats', '--replicas=3');
    await until('edge Ready with 3/3 after the scale-down', 120_000, async () => (settled(await tks(), 3) && (await atsPods()).length === 3 ? true : undefined));
  }, 300_000);

  it('an edit of the ATS ConfigMap reaches every pod through kubelet, the agents reload, and the keys stay', async () => {
    const before = await tks();
    const cm = await core.readNamespacedConfigMap({ namespace: NS, name: 'ats-config' });
    const data = { ...cm.data, 'records.config': `${cm.data!['records.config']}CONFIG proxy.config.http.keep_alive_no_activity_timeout_in INT 121\n` };
    const hash = configFilesHash(configMapFiles(data));
    await core.replaceNamespacedConfigMap({ namespace: NS, name: 'ats-config', body: { ...cm, data } });
    const client = new ResumingClient();
    const ips = await readyIps();
    const t = await until('every pod reloaded the new ConfigMap', 180_000, async () => {
      await client.probeOnce(ips);
      const current = await tks();
      const items = current.status?.pods?.items ?? [];
      const consistent = current.status?.conditions?.find((c) => c.type === 'ConfigConsistent');
      return items.length === 3 && items.every((i) => i.configHash === hash) && consistent?.status === 'True' ? current : undefined;
    });
    // The reload changed the configuration, not the keys: same generation and active key, and
    // sessions kept resuming on every pod while kubelet and the agents worked.
    expect(t.status?.keyGeneration).toBe(before.status?.keyGeneration);
    expect(t.status?.activeKey?.fingerprint).toBe(before.status?.activeKey?.fingerprint);
    for (let i = 0; i < 6; i++) await client.probeOnce(ips);
    expect(client.failures).toEqual([]);
  }, 240_000);

  it('a rolling restart of ATS brings new pods that hold the ring before they take traffic', async () => {
    const oldPods = new Set((await atsPods()).map((p) => p.metadata!.name!));
    const client = new ResumingClient();
    await kubectl('rollout', 'restart', '-n', NS, 'deployment/ats');
    await until('the rollout done and edge Ready with 3/3 on new pods', 240_000, async () => {
      const ips = await readyIps();
      if (ips.length > 0) await client.probeOnce(ips);
      const pods = await atsPods();
      const fresh = pods.length === 3 && pods.every((p) => !oldPods.has(p.metadata!.name!) && condition(p, 'Ready')?.status === 'True');
      return fresh && settled(await tks(), 3) ? true : undefined;
    });
    expect(client.failures).toEqual([]);
    expect(client.tally.resumed).toBeGreaterThan(5);
  }, 300_000);

  it('deleting an ATS pod in the middle of a promotion: the rotation completes, the replacement gets the ring', async () => {
    const before = (await tks()).status?.keyGeneration ?? 0;
    const victim = (await atsPods())[0]!.metadata!.name!;
    // The owned Secret records the new generation as Staging before any pod gets it (persist
    // first): deleting the pod the moment the watch shows that lands in the stage/promote window.
    let deleted: Promise<unknown> | undefined;
    const seen = new Promise<void>((resolve) => {
      void new Watch(kc)
        .watch(`/api/v1/namespaces/${NS}/secrets`, { fieldSelector: 'metadata.name=edge-ticket-keys' }, (_type, secret: V1Secret) => {
          const a = secret.metadata?.annotations ?? {};
          if (!deleted && a[PHASE_ANNOTATION] === 'Staging' && Number(a[GENERATION_ANNOTATION]) > before) {
            deleted = core.deleteNamespacedPod({ namespace: NS, name: victim, gracePeriodSeconds: 0 });
            resolve();
          }
        }, () => {})
        .then((w) => (stopWatch = () => w.abort()));
    });
    let stopWatch = () => {};
    await sleep(500); // the watch is established
    await kubectl('annotate', '-n', NS, 'tks', 'edge', `${ANNOTATION_ROTATE_NOW}=mid-promotion`, '--overwrite');
    await Promise.race([seen, sleep(60_000).then(() => Promise.reject(new Error('the new generation never showed as Staging')))]);
    await deleted;
    stopWatch();
    const client = new ResumingClient();
    const t = await until('the rotation done on 3 pods without the deleted one', 240_000, async () => {
      const ips = await readyIps();
      if (ips.length > 0) await client.probeOnce(ips);
      const current = await tks();
      const names = (current.status?.pods?.items ?? []).map((i) => i.name);
      return (current.status?.keyGeneration ?? 0) > before && settled(current, 3) && !names.includes(victim) ? current : undefined;
    });
    expect(t.status?.pods?.items).toHaveLength(3);
    expect(client.failures).toEqual([]);
  }, 300_000);

  it('deleting the leader operator pod hands over to the other replica without a second rotation', async () => {
    const leases = kc.makeApiClient(CoordinationV1Api);
    const leaseName = `${RELEASE}-ticket-key-operator`;
    const holder = (await leases.readNamespacedLease({ namespace: OP_NS, name: leaseName })).spec!.holderIdentity!;
    const leaderPod = holder.split('_')[0]!;
    const before = await tks();
    await core.deleteNamespacedPod({ namespace: OP_NS, name: leaderPod });
    const next = await until('another leader', 120_000, async () => {
      const h = (await leases.readNamespacedLease({ namespace: OP_NS, name: leaseName })).spec?.holderIdentity;
      return h && !h.startsWith(`${leaderPod}_`) ? h : undefined;
    });
    expect(next.split('_')[0]).not.toBe(leaderPod);
    // The new leader takes over the set as it is: same generation, same key, Ready.
    await sleep(5000);
    const after = await tks();
    expect(after.status?.keyGeneration).toBe(before.status?.keyGeneration);
    expect(after.status?.activeKey?.fingerprint).toBe(before.status?.activeKey?.fingerprint);
    // And it rotates when asked.
    await kubectl('annotate', '-n', NS, 'tks', 'edge', `${ANNOTATION_ROTATE_NOW}=after-handover`, '--overwrite');
    await until('a rotation by the new leader', 120_000, async () => {
      const t = await tks();
      return (t.status?.keyGeneration ?? 0) > (before.status?.keyGeneration ?? 0) && settled(t, 3) ? true : undefined;
    });
  }, 300_000);

  it('helm upgrade rolls the operator with new values; helm uninstall leaves the CRD, the TicketKeySet and its Secret', async () => {
    const [repository, tag] = images.tko.split(/:(?=[^:]+$)/);
    await helm('upgrade', RELEASE, 'charts/ticket-key-operator', '--namespace', OP_NS, '--reuse-values', '--set', 'logLevel=debug', '--set', `image.repository=${repository}`, '--set', `image.tag=${tag}`, '--wait', '--timeout', '180s');
    const deployment = await apps.readNamespacedDeployment({ namespace: OP_NS, name: `${RELEASE}-ticket-key-operator` });
    expect(deployment.spec?.template.spec?.containers[0]?.args).toContain('--log-level=debug');
    await until('the upgraded operator pods Ready', 120_000, async () => {
      const d = await apps.readNamespacedDeployment({ namespace: OP_NS, name: `${RELEASE}-ticket-key-operator` });
      return d.status?.updatedReplicas === 2 && d.status.readyReplicas === 2 && d.status.replicas === 2 ? true : undefined;
    });
    await helm('uninstall', RELEASE, '--namespace', OP_NS, '--wait', '--timeout', '120s');
    expect((await apps.listNamespacedDeployment({ namespace: OP_NS })).items).toEqual([]);
    // By design (docs/install.md): the CRD, the TicketKeySet and its owned Secret stay.
    expect((await tks()).metadata?.name).toBe('edge');
    expect((await core.readNamespacedSecret({ namespace: NS, name: 'edge-ticket-keys' })).metadata?.name).toBe('edge-ticket-keys');
    await kubectl('get', 'crd', 'ticketkeysets.ticketkeys.dev');
  }, 300_000);
});
