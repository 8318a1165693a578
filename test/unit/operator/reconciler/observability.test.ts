// What the benchmarks measure, made visible: rotation stage/promote durations as histograms
// (only when this operator process saw both ends), and ATS's ticket counters per pod, refused
// when they are not plausible counters, as gauges and as a status summary that a moving counter
// alone writes at most once per resync period.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import type { GetRingResponse } from '../../../../src/agent/protocol.ts';
import type { ReconcileContext } from '../../../../src/operator/runtime/controller.ts';
import { OperatorMetrics } from '../../../../src/operator/metrics.ts';
import type { AgentAddress } from '../../../../src/operator/reconciler/agents.ts';
import { TicketKeySetReconciler } from '../../../../src/operator/reconciler/reconciler.ts';
import { MAX_TLS_COUNTER, ResumptionWrites, resumptionSummary, tlsCountersOf } from '../../../../src/operator/reconciler/tls-report.ts';
import { FakeClock } from '../runtime/fake-clock.ts';
import { FakeSource } from '../runtime/fake-source.ts';
import { silentLogger } from '../logger.ts';
import { eventsInto, FakeAgents, fakePod, FakeSecrets, statusInto } from './fakes.ts';

describe('tlsCountersOf (a pod\'s ATS ticket counters are input)', () => {
  it('accepts two non-negative safe integers and nothing else', () => {
    expect(tlsCountersOf(undefined)).toBeUndefined();
    expect(tlsCountersOf({ ticketsNotFound: 0, ticketsVerifiedOldKey: 7 })).toEqual({ ticketsNotFound: 0, ticketsVerifiedOldKey: 7 });
    expect(tlsCountersOf({ ticketsNotFound: MAX_TLS_COUNTER, ticketsVerifiedOldKey: 1, extra: 'ignored' })).toEqual({ ticketsNotFound: MAX_TLS_COUNTER, ticketsVerifiedOldKey: 1 });
    for (const bad of [
      null,
      7,
      'x',
      [1, 2],
      {},
      { ticketsNotFound: 1 },
      { ticketsNotFound: -1, ticketsVerifiedOldKey: 0 },
      { ticketsNotFound: 1.5, ticketsVerifiedOldKey: 0 },
      { ticketsNotFound: '3', ticketsVerifiedOldKey: 0 },
      { ticketsNotFound: Number.NaN, ticketsVerifiedOldKey: 0 },
      { ticketsNotFound: Number.POSITIVE_INFINITY, ticketsVerifiedOldKey: 0 },
      { ticketsNotFound: 0, ticketsVerifiedOldKey: MAX_TLS_COUNTER + 1 },
      { ticketsNotFound: 0, ticketsVerifiedOldKey: Number.MAX_SAFE_INTEGER + 2 },
    ]) {
      expect(tlsCountersOf(bad)).toEqual({ error: expect.stringMatching(/^tls/) });
    }
  });
});

describe('resumptionSummary', () => {
  it('sums the pods that reported and counts them; none reporting is no summary', () => {
    expect(resumptionSummary([])).toBeUndefined();
    expect(resumptionSummary([undefined, undefined])).toBeUndefined();
    expect(
      resumptionSummary([{ ticketsNotFound: 2, ticketsVerifiedOldKey: 10 }, undefined, { ticketsNotFound: 3, ticketsVerifiedOldKey: 0 }]),
    ).toEqual({ ticketsNotFound: 5, ticketsVerifiedOldKey: 10, podsReporting: 2 });
  });

  it('stays a safe integer over many pods at the bound', () => {
    const many = Array.from({ length: 100 }, () => ({ ticketsNotFound: MAX_TLS_COUNTER, ticketsVerifiedOldKey: MAX_TLS_COUNTER }));
    const s = resumptionSummary(many)!;
    expect(Number.isSafeInteger(s.ticketsNotFound)).toBe(true);
    expect(s.ticketsNotFound).toBe(Math.min(Number.MAX_SAFE_INTEGER, 100 * MAX_TLS_COUNTER));
    expect(s.podsReporting).toBe(100);
  });
});

describe('ResumptionWrites', () => {
  const a = { ticketsNotFound: 1, ticketsVerifiedOldKey: 0, podsReporting: 1 };
  const b = { ticketsNotFound: 2, ticketsVerifiedOldKey: 0, podsReporting: 1 };

  it('rides along with a write that happens anyway', () => {
    const w = new ResumptionWrites();
    w.wrote('k', 1000);
    expect(w.choose('k', b, a, false, 1001, 60_000)).toBe(b);
  });

  it('writes a changed summary on its own at most once per interval', () => {
    const w = new ResumptionWrites();
    expect(w.choose('k', a, undefined, true, 0, 60_000)).toBe(a); // nothing written yet by this process
    w.wrote('k', 0);
    expect(w.choose('k', b, a, true, 59_999, 60_000)).toBe(a);
    expect(w.choose('k', b, a, true, 60_000, 60_000)).toBe(b);
    expect(w.choose('k', a, a, true, 1, 60_000)).toBe(a);
  });
});

function tksObject(annotations: Record<string, string> = {}): TicketKeySet {
  return {
    apiVersion: 'ticketkeys.dev/v1alpha1',
    kind: 'TicketKeySet',
    metadata: { name: 'web', namespace: 'ns', uid: 'tks-uid', generation: 1, annotations },
    spec: { selector: { matchLabels: { app: 'ats' } }, rotation: { interval: '1h' }, promotion: { timeout: '1m' } },
  };
}

/** FakeAgents whose answers carry `tls` as set per pod IP (absent when not set). */
class TlsAgents extends FakeAgents {
  readonly tls = new Map<string, unknown>();
  override async getRing(to: AgentAddress): Promise<GetRingResponse> {
    const ring = await super.getRing(to);
    return this.tls.has(to.ip) ? { ...ring, tls: this.tls.get(to.ip) } : ring;
  }
}

const RESYNC_MS = 60_000;

function setup(shared?: { clock: FakeClock; tksSource: FakeSource<TicketKeySet>; podSource: FakeSource<V1Pod>; secrets: FakeSecrets; agents: TlsAgents }) {
  const clock = shared?.clock ?? new FakeClock();
  const tksSource = shared?.tksSource ?? new FakeSource<TicketKeySet>({ objects: [tksObject()] });
  const podSource = shared?.podSource ?? new FakeSource<V1Pod>({ objects: [fakePod('a', { ip: '10.0.0.1' }), fakePod('b', { ip: '10.0.0.2' })] });
  const secrets = shared?.secrets ?? new FakeSecrets();
  const agents = shared?.agents ?? new TlsAgents();
  const metrics = new OperatorMetrics({ clock });
  const statusWrites: Array<Record<string, unknown>> = [];
  const reconciler = new TicketKeySetReconciler({
    ticketKeySets: tksSource,
    pods: podSource,
    secrets,
    status: statusInto(tksSource, (status) => statusWrites.push(status)),
    events: eventsInto([]),
    readiness: { setCondition: () => Promise.resolve(undefined) },
    agents,
    clock,
    metrics: metrics.ticketKeys,
    resyncMs: RESYNC_MS,
  });
  const ctx: ReconcileContext = { namespace: 'ns', name: 'web', logger: silentLogger(), retries: 0 };
  const reconcile = () => reconciler.reconcile('ns/web', ctx);
  const rotateNow = (token: string) => tksSource.upsert({ ...tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': token }).metadata } });
  const scrape = () => metrics.registry.metrics();
  const status = () => tksSource.get('web', 'ns')!.status!;
  return { clock, tksSource, podSource, secrets, agents, metrics, statusWrites, reconcile, rotateNow, scrape, status };
}

const series = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
const value = (text: string, line: string): number | undefined => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};
const WEB = 'namespace="ns",name="web"';

describe('rotation duration histograms', () => {
  it('observes stage and promote once each for a rotation this process carried from staging to every pod acknowledging', async () => {
    const f = setup();
    await f.reconcile();
    f.agents.down.add('10.0.0.2');
    f.rotateNow('r1');
    await f.reconcile(); // staged, b unreachable: the gate stays closed
    expect(f.status().phase).toBe('Staging');
    expect(value(await f.scrape(), `ticketkeys_rotation_stage_duration_seconds_count{${WEB}}`)).toBeUndefined();
    await f.clock.advance(4_000);
    f.agents.down.delete('10.0.0.2');
    await f.reconcile(); // b acknowledges the staged ring, promotion, every pod acknowledges it
    expect(f.status().phase).toBe('Stable');
    const text = await f.scrape();
    expect(value(text, `ticketkeys_rotation_stage_duration_seconds_count{${WEB}}`)).toBe(1);
    expect(value(text, `ticketkeys_rotation_stage_duration_seconds_sum{${WEB}}`)).toBe(4);
    expect(value(text, `ticketkeys_rotation_stage_duration_seconds_bucket{le="5",${WEB}}`)).toBe(1);
    expect(value(text, `ticketkeys_rotation_stage_duration_seconds_bucket{le="2.5",${WEB}}`)).toBe(0);
    expect(value(text, `ticketkeys_rotation_promote_duration_seconds_count{${WEB}}`)).toBe(1);
    // Nothing more to observe for that rotation.
    await f.reconcile();
    expect(value(await f.scrape(), `ticketkeys_rotation_stage_duration_seconds_count{${WEB}}`)).toBe(1);
    expect(value(await f.scrape(), `ticketkeys_rotation_promote_duration_seconds_count{${WEB}}`)).toBe(1);
  });

  it('observes nothing for a stage it did not see start (an operator restarted mid-rotation)', async () => {
    const first = setup();
    await first.reconcile();
    first.agents.down.add('10.0.0.2');
    first.rotateNow('r1');
    await first.reconcile();
    expect(first.status().phase).toBe('Staging');
    // A new process: same cluster, fresh memory.
    const second = setup({ clock: first.clock, tksSource: first.tksSource, podSource: first.podSource, secrets: first.secrets, agents: first.agents });
    await first.clock.advance(4_000);
    first.agents.down.delete('10.0.0.2');
    await second.reconcile();
    expect(second.status().phase).toBe('Stable');
    const text = await second.scrape();
    expect(value(text, `ticketkeys_rotation_stage_duration_seconds_count{${WEB}}`)).toBeUndefined();
    // The promotion it persisted itself and saw acknowledged is observed.
    expect(value(text, `ticketkeys_rotation_promote_duration_seconds_count{${WEB}}`)).toBe(1);
  });

  it('drops a staged key\'s start when a revoke replaces it', async () => {
    const f = setup();
    await f.reconcile();
    f.agents.down.add('10.0.0.2');
    f.rotateNow('r1');
    await f.reconcile();
    f.agents.down.delete('10.0.0.2');
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'r1', 'ticketkeys.dev/revoke': 'v1' }).metadata } });
    await f.reconcile();
    const text = await f.scrape();
    expect(value(text, `ticketkeys_rotation_stage_duration_seconds_count{${WEB}}`)).toBeUndefined();
    expect(value(text, `ticketkeys_rotation_promote_duration_seconds_count{${WEB}}`)).toBeUndefined();
  });
});

describe('ATS ticket counters per pod', () => {
  it('exports each pod\'s valid counters, sums them in status, and refuses a bad report without touching that pod\'s ring', async () => {
    const f = setup();
    f.agents.tls.set('10.0.0.1', { ticketsNotFound: 3, ticketsVerifiedOldKey: 5 });
    f.agents.tls.set('10.0.0.2', { ticketsNotFound: -4, ticketsVerifiedOldKey: 1 });
    await f.reconcile();
    const text = await f.scrape();
    expect(series(text, 'ticketkeys_pod_tls_tickets_not_found')).toEqual([`ticketkeys_pod_tls_tickets_not_found{${WEB},pod="a"} 3`]);
    expect(series(text, 'ticketkeys_pod_tls_tickets_verified_old_key')).toEqual([`ticketkeys_pod_tls_tickets_verified_old_key{${WEB},pod="a"} 5`]);
    expect(f.status().pods).toMatchObject({ converged: 2, total: 2, resumption: { ticketsNotFound: 3, ticketsVerifiedOldKey: 5, podsReporting: 1 } });

    f.agents.tls.set('10.0.0.2', { ticketsNotFound: 4, ticketsVerifiedOldKey: 1 });
    await f.clock.advance(RESYNC_MS);
    await f.reconcile();
    expect(f.status().pods?.resumption).toEqual({ ticketsNotFound: 7, ticketsVerifiedOldKey: 6, podsReporting: 2 });
    expect(series(await f.scrape(), 'ticketkeys_pod_tls_tickets_not_found')).toEqual([
      `ticketkeys_pod_tls_tickets_not_found{${WEB},pod="a"} 3`,
      `ticketkeys_pod_tls_tickets_not_found{${WEB},pod="b"} 4`,
    ]);
  });

  it('keeps an unreachable pod\'s last value, and drops the series of a pod that leaves the set and of a deleted set', async () => {
    const f = setup();
    f.agents.tls.set('10.0.0.1', { ticketsNotFound: 1, ticketsVerifiedOldKey: 0 });
    f.agents.tls.set('10.0.0.2', { ticketsNotFound: 2, ticketsVerifiedOldKey: 0 });
    await f.reconcile();
    f.agents.down.add('10.0.0.2');
    await f.reconcile();
    expect(series(await f.scrape(), 'ticketkeys_pod_tls_tickets_not_found')).toHaveLength(2);
    f.podSource.remove(f.podSource.get('b', 'ns')!);
    await f.reconcile();
    expect(series(await f.scrape(), 'ticketkeys_pod_tls_tickets_not_found')).toEqual([`ticketkeys_pod_tls_tickets_not_found{${WEB},pod="a"} 1`]);
    // An agent that stops reporting them (e.g. a bridge that cannot read them) loses its series.
    f.agents.tls.delete('10.0.0.1');
    await f.reconcile();
    expect(series(await f.scrape(), 'ticketkeys_pod_tls_tickets_not_found')).toEqual([]);
    f.agents.tls.set('10.0.0.1', { ticketsNotFound: 1, ticketsVerifiedOldKey: 0 });
    await f.reconcile();
    f.tksSource.remove(f.tksSource.get('web', 'ns')!);
    await f.reconcile();
    const text = await f.scrape();
    expect(text).not.toContain('name="web"');
  });

  it('does not write status for a moving counter alone more than once per resync period', async () => {
    const f = setup();
    f.agents.tls.set('10.0.0.1', { ticketsNotFound: 0, ticketsVerifiedOldKey: 0 });
    await f.reconcile();
    const writes = f.statusWrites.length;
    expect(f.status().pods?.resumption).toEqual({ ticketsNotFound: 0, ticketsVerifiedOldKey: 0, podsReporting: 1 });
    for (let i = 1; i <= 5; i++) {
      f.agents.tls.set('10.0.0.1', { ticketsNotFound: i, ticketsVerifiedOldKey: 0 });
      await f.clock.advance(10_000);
      await f.reconcile();
      // The metric is live at every reconcile...
      expect(series(await f.scrape(), 'ticketkeys_pod_tls_tickets_not_found')).toEqual([`ticketkeys_pod_tls_tickets_not_found{${WEB},pod="a"} ${i}`]);
    }
    // ...the status is not rewritten for it within the resync period,
    expect(f.statusWrites.length).toBe(writes);
    expect(f.status().pods?.resumption?.ticketsNotFound).toBe(0);
    await f.clock.advance(10_000);
    await f.reconcile();
    // but is once the period has passed.
    expect(f.statusWrites.length).toBe(writes + 1);
    expect(f.status().pods?.resumption?.ticketsNotFound).toBe(5);
    // A status write that happens anyway (a rotation) carries the current summary at once.
    f.agents.tls.set('10.0.0.1', { ticketsNotFound: 6, ticketsVerifiedOldKey: 0 });
    f.rotateNow('r1');
    await f.reconcile();
    expect(f.status().pods?.resumption?.ticketsNotFound).toBe(6);
  });

  it('removes the summary once no pod reports counters', async () => {
    const f = setup();
    f.agents.tls.set('10.0.0.1', { ticketsNotFound: 1, ticketsVerifiedOldKey: 0 });
    await f.reconcile();
    expect(f.status().pods?.resumption).toBeDefined();
    f.agents.tls.delete('10.0.0.1');
    await f.clock.advance(RESYNC_MS);
    await f.reconcile();
    // A merge patch deletes the nested field only when told to with null (the fake keeps the null).
    expect(f.statusWrites.at(-1)).toMatchObject({ pods: { resumption: null } });
    expect(f.status().pods?.resumption ?? undefined).toBeUndefined();
    const writes = f.statusWrites.length;
    await f.reconcile();
    expect(f.statusWrites.length).toBe(writes);
  });
});
