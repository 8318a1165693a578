// Fault injection, a hostile pod: four pods with real ATS and real agents, a real operator, a TLS
// client resuming round-robin across the three healthy pods throughout. One pod turns hostile
// in four ways, one after the other, and is healed after each:
//   - a process in the pod pushes generation 2^53-1 into its ATS through the plugin message;
//   - its agent port answers with a lying acknowledgement (a ring it does not hold), with the
//     pod's own certificate;
//   - it answers with a 100 MB body;
//   - it answers one byte per second (slow-loris).
// Each time: the pod is named in status and in an Event, the status never calls it converged,
// the other pods keep receiving each new ring, the operator stays healthy, no resumption on
// the healthy pods fails, no generation goes backwards, and no key bytes show up anywhere.
import { afterAll, describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../src/api/index.ts';
import { READINESS_GATE_CONDITION_TYPE } from '../../src/api/names.ts';
import { FaultObservers } from '../helpers/fault-observers.ts';
import { HostileAgent, podServingCert, type HostileMode } from '../helpers/hostile-agent.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { newKey } from '../fixtures/keys.ts';

const PORT = 19443;
const TLS_PORT = 18443;
const HEALTHY = ['ats-0', 'ats-1', 'ats-2'];
const HOSTILE = 'ats-3';
const PODS = [...HEALTHY, HOSTILE];
const sc = useOperatorScenario('fault-hostile-pod', {
  port: PORT,
  pods: PODS.map((name, i) => ({
    name,
    ip: `127.0.70.${11 + i}`,
    labels: { app: 'hostile' },
    ats: true,
    tlsPort: TLS_PORT,
    readinessGates: [READINESS_GATE_CONDITION_TYPE],
  })),
  operator: { agentTimeout: '2s' },
  ticketKeySet: ticketKeySet('web', {
    selector: { matchLabels: { app: 'hostile' } },
    rotation: { interval: '10s' },
    ticketLifetime: '2m',
    promotion: { timeout: '3s' },
    availability: { maxUnavailable: 1 },
    agent: { port: PORT },
  }),
  setupTimeoutMs: 150_000,
  teardownTimeoutMs: 60_000,
});

let obs: FaultObservers;
/** The pod the status must not call converged right now, since when. */
let hostileNow: Array<{ pod: string; since: number }> = [];
let hostile: HostileAgent | undefined;
afterAll(async () => {
  await obs?.stop();
  obs?.keys.destroy();
  await hostile?.close();
});

const stable = (what: string, timeoutMs = 90_000): Promise<TicketKeySet> =>
  untilStatus(sc.tks, 'web', what, (t) => t.status?.phase === 'Stable' && isReady(t, '4/4'), timeoutMs);

async function eventsNaming(pod: string): Promise<number> {
  return (await ticketKeySetEvents(testKubeConfig(), sc.ns.name, 'web')).filter((e) => e.note.includes(pod)).reduce((n, e) => n + e.count, 0);
}

async function kubelet(): Promise<void> {
  await obs.syncReadiness();
}

/** One hostile episode, from a Stable fleet back to a Stable fleet. */
async function hostileEpisode(label: string, begin: () => Promise<void>, end: () => Promise<void>): Promise<void> {
  const before = await stable(`Stable 4/4 before ${label}`);
  const generation = before.status!.keyGeneration!;
  const events = await eventsNaming(HOSTILE);
  await begin();
  hostileNow = [{ pod: HOSTILE, since: Date.now() }];

  // Named in status: its own error, or the Degraded condition.
  await untilStatus(
    sc.tks,
    'web',
    `${HOSTILE} named in status (${label})`,
    (t) =>
      t.status?.pods?.items?.some((i) => i.name === HOSTILE && i.error !== undefined) === true ||
      t.status?.conditions?.some((c) => c.type === 'Degraded' && c.status === 'True' && c.message.includes(HOSTILE)) === true,
    30_000,
  );
  // The others keep rotating: a newer ring is issued and every healthy pod's ATS holds it.
  const next = await untilStatus(sc.tks, 'web', `a ring above generation ${generation} (${label})`, (t) => (t.status?.keyGeneration ?? 0) > generation, 30_000);
  const g = next.status!.keyGeneration!;
  await eventually(
    `every healthy pod holds generation ${g} (${label})`,
    async () => {
      await kubelet();
      const truth = await obs.rings.sampleNow();
      return HEALTHY.every((p) => (truth.find((s) => s.pod === p)?.generation ?? 0) >= g) ? true : undefined;
    },
    30_000,
  );
  await eventually(`an Event naming ${HOSTILE} (${label})`, async () => ((await eventsNaming(HOSTILE)) > events ? true : undefined), 30_000);
  const health = await fetch(`${sc.operator.metricsUrl}/healthz`);
  expect(health.status).toBe(200);
  const t = await sc.tks.get('web');
  expect(t.status?.pods?.converged).toBeLessThanOrEqual(HEALTHY.length);

  hostileNow = [];
  await end();
  await eventually(`Stable 4/4 after ${label}`, async () => {
    await kubelet();
    const s = await sc.tks.get('web');
    return s.status?.phase === 'Stable' && isReady(s, '4/4') ? s : undefined;
  }, 90_000);
}

/** Replaces the hostile pod's agent by a hostile server on its address, with its certificate. */
function impostor(mode: HostileMode): [() => Promise<void>, () => Promise<void>] {
  return [
    async () => {
      obs.logs.keep(sc.fleet, HOSTILE);
      await sc.fleet.stopAgent(HOSTILE);
      hostile = await HostileAgent.start({ host: sc.fleet.get(HOSTILE).ip, port: PORT, mode, tls: await podServingCert(sc.fleet, HOSTILE) });
    },
    async () => {
      const h = hostile;
      hostile = undefined;
      expect(h?.requests).toBeGreaterThan(0);
      await h?.close();
      await sc.fleet.startAgent(HOSTILE);
    },
  ];
}

describe('fault injection: a hostile pod is its own error, never the others\' stall', () => {
  it('starts the observers once the first ring is on every pod', async () => {
    await stable('the first ring on every pod');
    obs = new FaultObservers({ sc, kc: testKubeConfig(), name: 'web', pods: PODS, clientPods: HEALTHY, tlsPort: TLS_PORT, neverConverged: () => hostileNow });
    await eventually('every pod Ready', async () => ((await obs.syncReadiness()).length === 0 ? true : undefined));
    obs.start();
  }, 100_000);

  it('a huge generation (2^53-1) pushed into its ATS through the plugin message', async () => {
    const ats = sc.fleet.get(HOSTILE).ats!;
    await hostileEpisode(
      'huge generation',
      async () => {
        const bridge = ats.createBridge();
        const key = newKey();
        try {
          await bridge.install({ generation: Number.MAX_SAFE_INTEGER, keys: [key], revoke: false });
        } finally {
          key.fill(0);
          await bridge.close();
        }
        await eventually('ATS holds the huge generation', async () => ((await obs.rings.sampleNow()).find((s) => s.pod === HOSTILE)?.generation === Number.MAX_SAFE_INTEGER ? true : undefined));
      },
      // The pod's supervisor restarts traffic_server: the foreign ring is gone, the agent re-asserts.
      () => ats.restart(),
    );
  }, 180_000);

  it('a lying acknowledgement (claims a ring it does not hold)', async () => {
    await hostileEpisode('lying acknowledgement', ...impostor('lie'));
  }, 180_000);

  it('a 100 MB response', async () => {
    await hostileEpisode('100 MB response', ...impostor('huge'));
  }, 180_000);

  it('a slow-loris response', async () => {
    await hostileEpisode('slow-loris response', ...impostor('slowloris'));
  }, 180_000);

  it('never called the hostile pod converged, lost no resumption on the healthy pods, leaked no key', async () => {
    await obs.stop();
    expect(obs.status.violations()).toEqual([]);
    expect(obs.rings.regressions()).toEqual([]);
    expect(obs.client.failed({ pods: HEALTHY })).toEqual([]);
    expect(obs.client.counts().resumed).toBeGreaterThan(100);
    expect(obs.maxNotReady).toBeLessThanOrEqual(1);
    const health = await fetch(`${sc.operator.metricsUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await obs.keyLeaks()).toEqual([]);
  }, 60_000);
});
