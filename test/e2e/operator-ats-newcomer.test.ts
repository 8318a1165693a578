// Newcomers and drift with real ATS: a pod declaring the ticketkeys.dev/keys-installed readiness
// gate becomes Ready only after its agent holds the current ring (the operator sets the pod
// condition), and a pod whose ATS and agent restarted (keys lost) is re-pushed, with an Event.
import { describe, expect, it } from '@jest/globals';
import { READINESS_GATE_CONDITION_TYPE } from '../../src/api/names.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';

const PORT = 19443;
const TLS_PORT = 18443;
const sc = useOperatorScenario('operator-ats-newcomer', {
  port: PORT,
  pods: [{ name: 'ats-0', ip: '127.0.0.191', labels: { app: 'gate' }, ats: true, tlsPort: TLS_PORT }],
  operator: { resyncPeriod: '2s' },
  ticketKeySet: ticketKeySet('web', { selector: { matchLabels: { app: 'gate' } }, rotation: { interval: '1h' }, promotion: { timeout: '3s' }, agent: { port: PORT } }),
  firstRingPods: 1,
  setupTimeoutMs: 120_000,
  teardownTimeoutMs: 60_000,
});
const ns = sc.ns;

const probe = (host: string, session?: Buffer) => tlsProbe({ host, port: TLS_PORT, tls: '1.3', servername: 'gate.test', ...(session ? { session } : {}) });
const gate = async (pod: string) => (await sc.fleet.pods.get(pod)).status?.conditions?.find((c) => c.type === READINESS_GATE_CONDITION_TYPE);
const ready = async (pod: string) => (await sc.fleet.pods.get(pod)).status?.conditions?.find((c) => c.type === 'Ready')?.status;

describe('operator + real ATS: newcomers and drift', () => {
  it('keeps a gated newcomer not Ready until its agent holds the ring, then marks it', async () => {
    await sc.fleet.add('ats-1', { ip: '127.0.0.192', labels: { app: 'gate' }, ats: true, tlsPort: TLS_PORT, readinessGates: [READINESS_GATE_CONDITION_TYPE], startAgent: false });
    const blocked = await eventually('keys-installed False while the agent is down', async () => {
      const c = await gate('ats-1');
      return c?.status === 'False' ? c : undefined;
    });
    expect(blocked.reason).toBe('AgentUnreachable');
    await sc.fleet.pods.syncReadiness('ats-1');
    expect(await ready('ats-1')).toBe('False');

    await sc.fleet.startAgent('ats-1');
    await eventually('keys-installed True', async () => ((await gate('ats-1'))?.status === 'True' ? true : undefined));
    // Set only once ATS in the pod holds exactly the current ring.
    const t = await sc.tks.get('web');
    const ring = await sc.fleet.client('ats-1').getRing();
    expect(ring.ats.generation).toBe(t.status?.keyGeneration);
    expect(ring.ats.ringFingerprint).toBe(t.status?.pods?.items?.find((p) => p.name === 'ats-0')?.ringFingerprint);
    await sc.fleet.pods.syncReadiness('ats-1');
    expect(await ready('ats-1')).toBe('True');
    // The newcomer shares the fleet's keys: a ticket from ats-0 resumes on ats-1.
    const first = await probe('127.0.0.191');
    expect((await probe('127.0.0.192', first.newSession)).resumed).toBe(true);
  });

  it('repairs a pod whose ATS restarted with no keys (drift re-push + Event)', async () => {
    const before = await sc.tks.get('web');
    const ticket = (await probe('127.0.0.191')).newSession!;
    // The whole pod restarts its containers: agent and ATS lose every key.
    await sc.fleet.stopAgent('ats-1');
    await sc.fleet.get('ats-1').ats!.restart();
    expect((await probe('127.0.0.192', ticket)).resumed).toBe(false);
    await sc.fleet.startAgent('ats-1');
    const repaired = await eventually('DriftRepaired event', async () =>
      (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).find((e) => e.reason === 'DriftRepaired' && e.related === 'ats-1'),
    );
    expect(repaired.note).toContain('ats-1');
    const ring = await sc.fleet.client('ats-1').getRing();
    expect(ring.ats.generation).toBe(before.status?.keyGeneration);
    expect((await probe('127.0.0.192', ticket)).resumed).toBe(true);
    expect((await gate('ats-1'))?.status).toBe('True');
  });
});
