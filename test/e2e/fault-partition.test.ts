// Fault injection, network: three pods with real ATS and real agents, a real operator, a TLS
// client resuming round-robin across the three throughout. One agent sits behind a fault proxy
// (the operator dials the Pod IP, where the proxy listens; the agent listens on another address)
// and is refused, black-holed, slowed by 2 s per chunk, and healed each time; then every agent
// is unreachable at once. Throughout: no pod that holds a valid ring is taken out of service
// beyond availability.maxUnavailable, no key is promoted before every Ready pod was seen holding
// it, the status never claims more converged pods than really hold the ring, no generation goes
// backwards, no resumption fails; after each heal the rotation completes on every pod. At the
// end, no key bytes in any log, Event or status.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TicketKeySet } from '../../src/api/index.ts';
import { READINESS_GATE_CONDITION_TYPE } from '../../src/api/names.ts';
import { FaultObservers } from '../helpers/fault-observers.ts';
import { FaultProxy, type FaultMode } from '../../dev/fault-proxy.ts';
import { testKubeConfig } from '../helpers/kube.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const TLS_PORT = 18443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const PROXIED = 'ats-2';
const IPS = ['127.0.70.1', '127.0.70.2', '127.0.70.3'];
/** Where the proxied pod's agent really listens; the proxy listens on its Pod IP. */
const PROXIED_AGENT_HOST = '127.0.71.3';
const MAX_UNAVAILABLE = 1;

let proxy: FaultProxy;
beforeAll(async () => {
  // Before the scenario's beforeAll: the proxy is in place when the operator first dials the pod.
  proxy = await FaultProxy.start({ listen: { host: IPS[2]!, port: PORT }, target: { host: PROXIED_AGENT_HOST, port: PORT } });
});
const sc = useOperatorScenario('fault-partition', {
  port: PORT,
  pods: PODS.map((name, i) => ({
    name,
    ip: IPS[i]!,
    labels: { app: 'part' },
    ats: true,
    tlsPort: TLS_PORT,
    readinessGates: [READINESS_GATE_CONDITION_TYPE],
    ...(name === PROXIED ? { agentHost: PROXIED_AGENT_HOST } : {}),
  })),
  operator: { agentTimeout: '2s', logLevel: 'info' },
  ticketKeySet: ticketKeySet('web', {
    selector: { matchLabels: { app: 'part' } },
    rotation: { interval: '10s' },
    ticketLifetime: '2m',
    promotion: { timeout: '3s' },
    availability: { maxUnavailable: MAX_UNAVAILABLE },
    agent: { port: PORT },
  }),
  setupTimeoutMs: 120_000,
  teardownTimeoutMs: 60_000,
});
afterAll(async () => {
  await obs?.stop(); // a failed test leaves them running
  obs?.keys.destroy();
  await proxy?.close();
});

let obs: FaultObservers;

const status = async () => (await sc.tks.get('web')).status;

/** Waits for Stable with every pod on the ring, then returns the active key. */
async function stable(what: string, timeoutMs = 60_000): Promise<TicketKeySet> {
  return untilStatus(sc.tks, 'web', what, (t) => t.status?.phase === 'Stable' && isReady(t, '3/3'), timeoutMs);
}

/**
 * Applies a fault, waits for the next scheduled rotation to stage its key, holds the fault past
 * the promotion timeout (the active key must not move: a Ready pod has not acknowledged), then
 * heals and waits until the staged key is active and every pod holds the ring.
 */
async function faultWindow(label: string, blamed: readonly string[], apply: () => Promise<void>, heal: () => Promise<void>): Promise<void> {
  const before = await stable(`Stable 3/3 before ${label}`);
  const active = before.status!.activeKey!.fingerprint;
  await apply();
  const staged = await untilStatus(sc.tks, 'web', `a key staged during ${label}`, (t) => t.status?.phase === 'Staging' && t.status.stagedKey !== undefined, 30_000);
  const stagedFp = staged.status!.stagedKey!.fingerprint;
  // Past the promotion timeout (3 s) with margin: the pod(s) did not acknowledge, so nothing is promoted.
  const degraded = await untilStatus(
    sc.tks,
    'web',
    `Degraded naming ${blamed.join(', ')} during ${label}`,
    (t) => t.status?.conditions?.some((c) => c.type === 'Degraded' && c.status === 'True' && blamed.every((p) => c.message.includes(p))) === true,
    20_000,
  );
  expect(degraded.status?.activeKey?.fingerprint).toBe(active);
  await sleep(3000);
  const held = await status();
  expect(held?.activeKey?.fingerprint).toBe(active);
  expect(held?.stagedKey?.fingerprint).toBe(stagedFp);
  await heal();
  await untilStatus(sc.tks, 'web', `rotation completed after ${label}`, (t) => t.status?.activeKey?.fingerprint === stagedFp && isReady(t, '3/3'), 60_000);
}

const proxyMode = (mode: FaultMode, delayMs?: number) => () => proxy.setMode(mode, delayMs === undefined ? {} : { delayMs });

describe('fault injection: an agent partitioned, then every agent', () => {
  it('starts the observers once the first ring is on every pod', async () => {
    await stable('the first ring on every pod', 90_000).catch(async (err: unknown) => {
      console.log(JSON.stringify(await status(), null, 1), sc.operator.logs().slice(-30).join('\n'));
      throw err;
    });
    obs = new FaultObservers({ sc, kc: testKubeConfig(), name: 'web', pods: PODS, tlsPort: TLS_PORT });
    expect(await obs.syncReadiness()).toEqual([]);
    obs.start();
  }, 100_000);

  it('connection refused: the staged key waits for the pod, which stays in service', async () => {
    await faultWindow('connection refused', [PROXIED], proxyMode('refuse'), proxyMode('pass'));
  }, 120_000);

  it('black-holed (accepted, never answered): the same', async () => {
    await faultWindow('black hole', [PROXIED], proxyMode('blackhole'), proxyMode('pass'));
    expect(proxy.accepted).toBeGreaterThan(0);
  }, 120_000);

  it('slow (2 s per chunk): the same', async () => {
    await faultWindow('slow agent', [PROXIED], proxyMode('delay', 2000), proxyMode('pass'));
  }, 120_000);

  it('every agent unreachable at once: no pod taken out, nothing promoted; rotation resumes after healing', async () => {
    const others = PODS.filter((p) => p !== PROXIED);
    await faultWindow(
      'every agent unreachable',
      PODS,
      async () => {
        for (const pod of others) {
          obs.logs.keep(sc.fleet, pod);
          await sc.fleet.stopAgent(pod);
        }
        await proxy.setMode('refuse');
      },
      async () => {
        await proxy.setMode('pass');
        for (const pod of others) await sc.fleet.startAgent(pod);
      },
    );
  }, 150_000);

  it('ends with every pod on the current ring, and nothing untrue, lost or leaked on the way', async () => {
    const t = await stable('Stable 3/3 at the end');
    await obs.stop();
    for (const pod of PODS) expect((await obs.rings.sampleNow()).find((s) => s.pod === pod)?.generation).toBe(t.status?.keyGeneration);
    expect(obs.maxNotReady).toBeLessThanOrEqual(MAX_UNAVAILABLE);
    // Every pod held a ring the fleet can decrypt throughout: fail open keeps all of them in service.
    expect(obs.notReadySeen()).toEqual([]);
    expect(obs.status.violations()).toEqual([]);
    expect(obs.rings.regressions()).toEqual([]);
    const counts = obs.client.counts();
    expect(obs.client.failed()).toEqual([]);
    expect(counts.resumed).toBeGreaterThan(100);
    const events = await ticketKeySetEvents(testKubeConfig(), sc.ns.name, 'web');
    expect(events.some((e) => e.type === 'Warning' && e.note.includes(PROXIED))).toBe(true);
    const health = await fetch(`${sc.operator.metricsUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await obs.keyLeaks()).toEqual([]);
    obs.keys.destroy();
  }, 60_000);
});
