// Fault injection, control plane: three pods with real ATS and real agents, a real operator,
// a TLS client resuming round-robin across the three throughout, on a test bed of this file's
// own (the API server and etcd are restarted, which the shared test bed must never see).
//   - kube-apiserver restarted right after a new key was staged (the Secret says Staging);
//   - kube-apiserver restarted right after the promotion was persisted (the Secret says
//     Promoting, the promoted ring is on its way to the pods);
//   - etcd restarted mid-rotation.
// One agent sits behind a proxy adding 500 ms per chunk, so each phase lasts long enough to be
// caught from outside. After each restart the rotation completes on every pod; throughout, no
// generation goes backwards on any pod, no resumption fails, the status never claims more than
// the agents hold; at the end no key bytes are in any log, Event or status.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../src/api/index.ts';
import { FaultObservers } from '../helpers/fault-observers.ts';
import { FaultProxy } from '../../dev/fault-proxy.ts';
import { Fleet } from '../../dev/fleet.ts';
import { eventually } from '../helpers/kube.ts';
import { spawnOperator, type SpawnedOperator } from '../../dev/operator-process.ts';
import { storedRing } from '../../dev/operator-records.ts';
import { isReady } from '../helpers/operator-scenario.ts';
import { usePrivateTestbed } from '../helpers/private-testbed.ts';
import { ticketKeySet, TicketKeySets } from '../../dev/ticket-key-sets.ts';
import { restartApiserver, restartEtcd } from '../../dev/testbed/testbed.ts';

const NS = 'fault-control-plane';
const PORT = 19443;
const TLS_PORT = 18443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const IPS = ['127.0.70.31', '127.0.70.32', '127.0.70.33'];
const SLOW = 'ats-2';
const SLOW_AGENT_HOST = '127.0.71.33';
const testbed = usePrivateTestbed('fault-control-plane', { namespace: NS });

const sc = {} as { fleet: Fleet; tks: TicketKeySets; operator: SpawnedOperator; ns: { name: string } };
let proxy: FaultProxy;
let obs: FaultObservers;

beforeAll(async () => {
  const kc = testbed.kc;
  await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'default' } } });
  proxy = await FaultProxy.start({ listen: { host: IPS[2]!, port: PORT }, target: { host: SLOW_AGENT_HOST, port: PORT }, mode: 'delay', delayMs: 500 });
  sc.ns = { name: NS };
  sc.tks = new TicketKeySets(kc, NS);
  sc.fleet = await Fleet.create({ kc, namespace: NS, port: PORT });
  for (const [i, name] of PODS.entries()) {
    await sc.fleet.add(name, { ip: IPS[i]!, labels: { app: 'cp' }, ats: true, tlsPort: TLS_PORT, ...(name === SLOW ? { agentHost: SLOW_AGENT_HOST } : {}) });
  }
  sc.operator = await spawnOperator({ certs: sc.fleet.files, namespaces: [NS], kubeconfig: join(testbed.dir, 'kubeconfig'), agentTimeout: '10s' });
  await sc.tks.create(
    ticketKeySet('web', {
      selector: { matchLabels: { app: 'cp' } },
      rotation: { interval: '15s' },
      ticketLifetime: '2m',
      promotion: { timeout: '10s' },
      agent: { port: PORT },
    }),
  );
}, 240_000);

afterAll(async () => {
  await obs?.stop();
  obs?.keys.destroy();
  await sc.operator?.stop();
  await sc.fleet?.close();
  await proxy?.close();
}, 60_000);

/** Polls the status through restarts (read errors while the API server is down are waited out). */
function untilStable(what: string, extra: (t: TicketKeySet) => boolean = () => true, timeoutMs = 90_000): Promise<TicketKeySet> {
  return eventually(
    what,
    async () => {
      const t = await sc.tks.get('web');
      return t.status?.phase === 'Stable' && isReady(t, '3/3') && extra(t) ? t : undefined;
    },
    timeoutMs,
  );
}

/** Waits (polling the owned Secret's annotations every 20 ms) until the persisted phase is `phase` at a generation above `above`. */
async function untilPersisted(phase: 'Staging' | 'Promoting', above: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await storedRing(testbed.kc, NS, 'web').catch(() => undefined);
    if (r && r.phase === phase && r.generation > above) return r.generation;
    await sleep(20);
  }
  throw new Error(`the Secret never said ${phase} above generation ${above}`);
}

async function restartMidPhase(phase: 'Staging' | 'Promoting', restart: () => Promise<void>): Promise<void> {
  const before = await untilStable(`Stable 3/3 before a restart during ${phase}`);
  const generation = await untilPersisted(phase, before.status!.keyGeneration!);
  await restart();
  // The rotation resumes: a key newer than the one active before is active on every pod.
  const after = await untilStable(`rotation complete after a restart during ${phase}`, (t) => t.status?.activeKey?.fingerprint !== before.status?.activeKey?.fingerprint && (t.status?.keyGeneration ?? 0) >= generation);
  for (const s of await obs.rings.sampleNow()) expect(s.generation).toBeGreaterThanOrEqual(after.status!.keyGeneration!);
}

describe('fault injection: API server and etcd restarted mid-rotation', () => {
  it('starts the observers once the first ring is on every pod', async () => {
    await untilStable('the first ring on every pod');
    obs = new FaultObservers({ sc, kc: testbed.kc, name: 'web', pods: PODS, tlsPort: TLS_PORT });
    obs.start();
  }, 100_000);

  it('kube-apiserver restarted while a key is staged', async () => {
    await restartMidPhase('Staging', () => restartApiserver(testbed.dir));
  }, 180_000);

  it('kube-apiserver restarted while a promotion is rolled out', async () => {
    await restartMidPhase('Promoting', () => restartApiserver(testbed.dir));
  }, 180_000);

  it('etcd restarted mid-rotation', async () => {
    await restartMidPhase('Staging', () => restartEtcd(testbed.dir));
  }, 180_000);

  it('and one more ordinary rotation; nothing went backwards, failed, was claimed untrue or leaked', async () => {
    const last = await untilStable('Stable 3/3');
    await untilStable('one more rotation', (t) => (t.status?.keyGeneration ?? 0) > last.status!.keyGeneration!);
    await obs.stop();
    expect(obs.rings.regressions()).toEqual([]);
    expect(obs.status.violations()).toEqual([]);
    expect(obs.client.failed()).toEqual([]);
    expect(obs.client.counts().resumed).toBeGreaterThan(100);
    const health = await fetch(`${sc.operator.metricsUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await obs.keyLeaks()).toEqual([]);
  }, 150_000);
});
