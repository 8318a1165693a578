// What the operator shows users about a real ATS fleet: after a rotation the stage and promote
// duration histograms have an observation each; a ticket issued before a revoke, presented to
// one pod afterwards, is a resumption ATS counts as tickets_not_found (read by the agent with
// RECORD_GET from the running traffic_server), and the operator exports it for that pod in
// /metrics and sums it in status.pods.resumption. A ticket of a retired key that still resumes
// shows up as tickets_verified_old_key.
import { describe, expect, it } from '@jest/globals';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';

const PORT = 19443;
const TLS_PORT = 18443;
const IPS = ['127.0.0.211', '127.0.0.212'];
const sc = useOperatorScenario('operator-ats-observability', {
  port: PORT,
  pods: IPS.map((ip, i) => ({ name: `ats-${i}`, ip, labels: { app: 'obs' }, ats: true, tlsPort: TLS_PORT })),
  ticketKeySet: ticketKeySet('web', { selector: { matchLabels: { app: 'obs' } }, rotation: { interval: '1h' }, ticketLifetime: '1h', promotion: { timeout: '5s' }, agent: { port: PORT } }),
  firstRingPods: 2,
  setupTimeoutMs: 120_000,
  teardownTimeoutMs: 60_000,
});
const ns = sc.ns;

const ref = () => ({ namespace: ns.name, name: 'web' });
const annotator = () => new TicketKeySetAnnotator({ kubeConfig: testKubeConfig() });
const probe = (host: string, session?: Buffer) => tlsProbe({ host, port: TLS_PORT, tls: '1.3', servername: 'obs.test', ...(session ? { session } : {}) });
const stableAfter = (generation: number) =>
  untilStatus(sc.tks, 'web', `Stable beyond generation ${generation}`, (t) => t.status?.phase === 'Stable' && (t.status.keyGeneration ?? 0) > generation && t.status.pods?.converged === 2);

/** One sample of the operator's /metrics, by series (name plus labels as exposed). */
async function sample(series: string): Promise<number | undefined> {
  const text = await (await fetch(`${sc.operator.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
const setLabels = () => `namespace="${ns.name}",name="web"`;
const podSeries = (metric: string, pod: string) => `${metric}{${setLabels()},pod="${pod}"}`;

describe('operator + real ATS: rotation durations and the resumption signal', () => {
  it('observes the stage and promote durations of a rotation it carried out', async () => {
    const before = await sc.tks.get('web');
    await annotator().requestRotation(ref());
    await stableAfter(before.status!.keyGeneration!);
    expect(await sample(`ticketkeys_rotation_stage_duration_seconds_count{${setLabels()}}`)).toBe(1);
    expect(await sample(`ticketkeys_rotation_promote_duration_seconds_count{${setLabels()}}`)).toBe(1);
    // Each half waited for two real agents proving ATS held the ring: more than nothing.
    expect(await sample(`ticketkeys_rotation_stage_duration_seconds_sum{${setLabels()}}`)).toBeGreaterThan(0);
    expect(await sample(`ticketkeys_rotation_promote_duration_seconds_sum{${setLabels()}}`)).toBeGreaterThan(0);
    // The per-pod push latency is there beside them (two pushes per pod per rotation at least).
    expect(await sample('ticketkeys_push_duration_seconds_count{result="success"}')).toBeGreaterThanOrEqual(4);
  });

  it('reports each pod\'s ATS ticket counters: a ticket no key decrypts counts as not found on the pod it was offered to', async () => {
    // Every pod reports its counters (the agent reads them from the running traffic_server).
    const reporting = await untilStatus(sc.tks, 'web', 'both pods report ticket counters', (t) => t.status?.pods?.resumption?.podsReporting === 2);
    const base = reporting.status!.pods!.resumption!;
    const notFound0 = (await sc.fleet.client('ats-0').getRing()).tls as { ticketsNotFound: number; ticketsVerifiedOldKey: number };
    expect(notFound0).toEqual({ ticketsNotFound: expect.any(Number), ticketsVerifiedOldKey: expect.any(Number) });

    // A ticket under the current key; a rotation retires that key: offered again, it resumes
    // with the retired key (verified_old_key on ats-1).
    const before = await sc.tks.get('web');
    const old = (await probe(IPS[0]!)).newSession!;
    await annotator().requestRotation(ref());
    const rotated = await stableAfter(before.status!.keyGeneration!);
    expect((await probe(IPS[1]!, old)).resumed).toBe(true);
    await eventually('ats-1 verified_old_key in /metrics', async () =>
      ((await sample(podSeries('ticketkeys_pod_tls_tickets_verified_old_key', 'ats-1'))) ?? 0) > 0 ? true : undefined,
    );

    // A revoke replaces every key: the ticket now matches no key on any pod.
    await annotator().requestRevoke(ref());
    await stableAfter(rotated.status!.keyGeneration!);
    expect((await probe(IPS[0]!, old)).resumed).toBe(false);

    const agentSeen = await eventually('ats-0 agent reports the ticket not found', async () => {
      const tls = (await sc.fleet.client('ats-0').getRing()).tls as { ticketsNotFound: number } | undefined;
      return tls && tls.ticketsNotFound > notFound0.ticketsNotFound ? tls : undefined;
    });
    const exported = await eventually('ats-0 tickets_not_found in /metrics', async () => {
      const v = await sample(podSeries('ticketkeys_pod_tls_tickets_not_found', 'ats-0'));
      return v !== undefined && v >= agentSeen.ticketsNotFound ? v : undefined;
    });
    expect(exported).toBeGreaterThan(0);
    // The ticket was offered to ats-0 only.
    expect(await sample(podSeries('ticketkeys_pod_tls_tickets_not_found', 'ats-1'))).toBe(0);

    // The status sums it, written within a resync period (5 s here) of the change at the latest.
    const summarised = await untilStatus(
      sc.tks,
      'web',
      'status.pods.resumption counts the ticket',
      (t) => (t.status?.pods?.resumption?.ticketsNotFound ?? 0) >= exported && t.status?.pods?.resumption?.podsReporting === 2,
    );
    const r = summarised.status!.pods!.resumption!;
    expect(r.ticketsNotFound).toBeGreaterThan(base.ticketsNotFound);
    expect(r.ticketsVerifiedOldKey).toBeGreaterThan(base.ticketsVerifiedOldKey);
  }, 90_000);
});
