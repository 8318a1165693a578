// Session sharing in the reconcile shell: the operator sends each pod the config it should hold
// (peers = the other live targets) only where the hash its agent reports differs, after the key
// rounds, never letting a failure or a hostile report touch key delivery or other pods.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_SESSION_SHARING_CONFIG, sessionSharingConfigHash as agentConfigHash } from '../../../../src/agent/protocol.ts';
import { withSpecDefaults } from '../../../../src/api/index.ts';
import { SESSION_SHARING_MAX_PEERS, sessionSharingCanonicalJson, sessionSharingConfigHash, type SessionSharingConfig } from '../../../../src/contract/session-sharing.ts';
import { createLogger } from '../../../../src/observability/logger.ts';
import { OperatorMetrics } from '../../../../src/operator/metrics.ts';
import { targetPods } from '../../../../src/operator/reconciler/pods.ts';
import {
  MAX_SHARING_COUNTER,
  peerAddress,
  sessionSharingOf,
  sessionSharingPushes,
  sessionSharingSummary,
  wantedSessionSharing,
  type PodSessionSharing,
} from '../../../../src/operator/reconciler/session-sharing.ts';
import { act, aTicketKeySet, fixture } from './builders.ts';
import { FakeAgents, fakePod } from './fakes.ts';

type Sharing = { enabled?: boolean; maxEntries?: number; ttl?: string; batchInterval?: string };
const sharingSet = (sharing: Sharing) => aTicketKeySet().spec({ sessionCache: { sharing } }).build();

/** What an agent that never got a config reports (the agent's own default, disabled). */
const fresh = (counters: Partial<Record<string, number>> = {}) => ({
  enabled: false,
  configHash: agentConfigHash(DEFAULT_SESSION_SHARING_CONFIG),
  peers: 0,
  exported: 0,
  sent: 0,
  received: 0,
  inserted: 0,
  dropped: 0,
  refused: 0,
  ...counters,
});

const id = (pod: string) => [`spiffe://ticketkeys.dev/ns/ns/pod/${pod}`, 'spiffe://ticketkeys.dev/ns/ns/sa/default'];

function agentsReporting(ips: readonly string[], report: (ip: string) => unknown = () => fresh()): FakeAgents {
  const agents = new FakeAgents();
  for (const ip of ips) agents.sharing.set(ip, report(ip));
  return agents;
}

const threePods = (): V1Pod[] => [fakePod('c', { ip: '10.0.0.3' }), fakePod('a', { ip: '10.0.0.1' }), fakePod('b', { ip: '10.0.0.2' })];

function capturingLogger() {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  stream.on('data', (chunk: Buffer) => {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  return { logger: createLogger({ component: 'test', level: 'debug', stream }), lines };
}

describe('the session-sharing config hash (contract/session-sharing.ts)', () => {
  const config: SessionSharingConfig = {
    enabled: true,
    ttlSeconds: 300,
    maxEntries: 10_000,
    peers: [{ name: 'b', address: '10.0.0.2:9443', identities: id('b') }],
  };

  it('is sha256 hex of the canonical JSON, keys in the agreed order', () => {
    expect(sessionSharingCanonicalJson(config)).toBe(
      '{"enabled":true,"ttlSeconds":300,"maxEntries":10000,"peers":[{"name":"b","address":"10.0.0.2:9443","identities":["spiffe://ticketkeys.dev/ns/ns/pod/b","spiffe://ticketkeys.dev/ns/ns/sa/default"]}]}',
    );
    expect(sessionSharingConfigHash(config)).toMatch(/^[0-9a-f]{64}$/);
    // Key order of the input and extra properties do not change it.
    const shuffled = { peers: [{ identities: id('b'), address: '10.0.0.2:9443', name: 'b', extra: 1 }], maxEntries: 10_000, ttlSeconds: 300, enabled: true, other: 'x' };
    expect(sessionSharingConfigHash(shuffled as unknown as SessionSharingConfig)).toBe(sessionSharingConfigHash(config));
  });

  it('names batchIntervalMs only when it is not the default, so configs without it hash as before the field', () => {
    expect(sessionSharingCanonicalJson({ ...config, batchIntervalMs: 250 })).toMatch(/^\{"enabled":true,"ttlSeconds":300,"maxEntries":10000,"batchIntervalMs":250,"peers":/);
    expect(sessionSharingConfigHash({ ...config, batchIntervalMs: 40 })).toBe(sessionSharingConfigHash(config));
    expect(agentConfigHash({ ...config, batchIntervalMs: 250 })).toBe(sessionSharingConfigHash({ ...config, batchIntervalMs: 250 }));
  });

  it('equals the hash the agent computes for the same config, and changes with every field', () => {
    expect(sessionSharingConfigHash(config)).toBe(agentConfigHash(config));
    expect(sessionSharingConfigHash(DEFAULT_SESSION_SHARING_CONFIG)).toBe(agentConfigHash(DEFAULT_SESSION_SHARING_CONFIG));
    const variants: SessionSharingConfig[] = [
      { ...config, enabled: false },
      { ...config, ttlSeconds: 301 },
      { ...config, maxEntries: 1 },
      { ...config, batchIntervalMs: 250 },
      { ...config, peers: [] },
      { ...config, peers: [{ ...config.peers[0]!, address: '10.0.0.9:9443' }] },
      { ...config, peers: [{ ...config.peers[0]!, identities: [...id('b')].reverse() }] },
    ];
    const hashes = new Set([config, ...variants].map((c) => sessionSharingConfigHash(c)));
    expect(hashes.size).toBe(variants.length + 1);
  });
});

describe('sessionSharingOf (a pod\'s sessionSharing report is input)', () => {
  it('accepts the protocol\'s shape and refuses anything else with the field named', () => {
    expect(sessionSharingOf(undefined)).toBeUndefined();
    expect(sessionSharingOf({ ...fresh({ exported: 5, refused: MAX_SHARING_COUNTER }), extra: 'ignored' })).toEqual({
      enabled: false,
      configHash: agentConfigHash(DEFAULT_SESSION_SHARING_CONFIG),
      peers: 0,
      counters: { exported: 5, sent: 0, received: 0, inserted: 0, dropped: 0, refused: MAX_SHARING_COUNTER },
    });
    const cases: Array<[unknown, RegExp]> = [
      [null, /not an object/],
      ['x', /not an object/],
      [[fresh()], /not an object/],
      [{ ...fresh(), enabled: 'true' }, /enabled/],
      [{ ...fresh(), configHash: 'A'.repeat(64) }, /configHash/],
      [{ ...fresh(), configHash: 'a'.repeat(65) }, /configHash/],
      [{ ...fresh(), configHash: 7 }, /configHash/],
      [{ ...fresh(), peers: SESSION_SHARING_MAX_PEERS + 1 }, /peers/],
      [{ ...fresh(), peers: -1 }, /peers/],
      [{ ...fresh(), sent: -1 }, /sent/],
      [{ ...fresh(), received: 1.5 }, /received/],
      [{ ...fresh(), inserted: '3' }, /inserted/],
      [{ ...fresh(), dropped: Number.NaN }, /dropped/],
      [{ ...fresh(), exported: MAX_SHARING_COUNTER + 1 }, /exported/],
      [{ enabled: true, configHash: 'a'.repeat(64), peers: 0 }, /exported/],
    ];
    for (const [bad, field] of cases) {
      const r = sessionSharingOf(bad);
      expect(r).toEqual({ error: expect.stringMatching(/^sessionSharing/) });
      expect((r as { error: string }).error).toMatch(field);
    }
  });
});

describe('wantedSessionSharing', () => {
  const spec = withSpecDefaults(sharingSet({ enabled: true, ttl: '90s', maxEntries: 500 }).spec!);

  it('names the other live targets with an IP as peers, sorted by name, with their agent identities', () => {
    const targets = targetPods(
      [
        ...threePods(),
        fakePod('d', { ip: '10.0.0.4', terminating: true }),
        fakePod('e', { ip: '' }), // no IP yet: not a target, not a peer
        fakePod('f', { ip: '10.0.0.6', phase: 'Pending' }),
        fakePod('g', { ip: 'fd00::7' }),
      ],
      spec.selector,
    );
    const a = targets.find((t) => t.name === 'a')!;
    expect(wantedSessionSharing(a, targets, spec)).toEqual({
      enabled: true,
      ttlSeconds: 90,
      maxEntries: 500,
      peers: [
        { name: 'b', address: '10.0.0.2:9443', identities: id('b') },
        { name: 'c', address: '10.0.0.3:9443', identities: id('c') },
        { name: 'g', address: '[fd00::7]:9443', identities: id('g') },
      ],
    });
  });

  it('is bounded at 256 peers (the first by name)', () => {
    const pods = Array.from({ length: 300 }, (_, i) => fakePod(`p${String(i).padStart(3, '0')}`, { ip: `10.1.${Math.floor(i / 250)}.${i % 250}` }));
    const targets = targetPods(pods, spec.selector);
    const self = targets[5]!;
    const config = wantedSessionSharing(self, targets, spec);
    expect(config.peers).toHaveLength(SESSION_SHARING_MAX_PEERS);
    expect(config.peers.map((p) => p.name)).not.toContain(self.name);
    expect(config.peers[0]!.name).toBe('p000');
    expect(config.peers.at(-1)!.name).toBe('p256');
  });

  it('disabled: enabled=false, no peers, the spec\'s ttl and maxEntries (ttl in whole seconds, at least 1)', () => {
    const off = withSpecDefaults(aTicketKeySet().build().spec!);
    const targets = targetPods(threePods(), off.selector);
    expect(wantedSessionSharing(targets[0]!, targets, off)).toEqual({ enabled: false, ttlSeconds: 300, maxEntries: 10_000, peers: [] });
    const fractional = withSpecDefaults(sharingSet({ enabled: true, ttl: '1500ms' }).spec!);
    expect(wantedSessionSharing(targets[0]!, targets, fractional).ttlSeconds).toBe(1);
    expect(peerAddress('10.0.0.1', 1)).toBe('10.0.0.1:1');
  });

  it('sends the batch interval in ms only when it is not the default (older agents refuse the field)', () => {
    const targets = targetPods(threePods(), spec.selector);
    const at = (batchInterval: string, enabled = true) => wantedSessionSharing(targets[0]!, targets, withSpecDefaults(sharingSet({ enabled, batchInterval }).spec!));
    expect(at('250ms')).toMatchObject({ enabled: true, batchIntervalMs: 250 });
    expect(at('1s').batchIntervalMs).toBe(1000);
    expect(at('10ms').batchIntervalMs).toBe(10);
    expect(at('40ms')).not.toHaveProperty('batchIntervalMs');
    expect(wantedSessionSharing(targets[0]!, targets, spec)).not.toHaveProperty('batchIntervalMs');
    expect(at('250ms', false)).toEqual({ enabled: false, ttlSeconds: 300, maxEntries: 10_000, peers: [] });
  });
});

describe('sessionSharingPushes', () => {
  const on = withSpecDefaults(sharingSet({ enabled: true }).spec!);
  const off = withSpecDefaults(aTicketKeySet().build().spec!);
  const targets = targetPods(threePods(), on.selector);
  const report = (enabled: boolean, config?: SessionSharingConfig): PodSessionSharing => ({
    enabled,
    configHash: config ? sessionSharingConfigHash(config) : agentConfigHash(DEFAULT_SESSION_SHARING_CONFIG),
    peers: config?.peers.length ?? 0,
    counters: { exported: 0, sent: 0, received: 0, inserted: 0, dropped: 0, refused: 0 },
  });

  type Case = [string, typeof on, (pod: string) => PodSessionSharing | undefined, string[]];
  it.each<Case>([
    ['enabled, pod on another config', on, () => report(false), ['a', 'b', 'c']],
    ['enabled, pod already on the wanted config', on, (pod) => report(true, wantedSessionSharing(targets.find((t) => t.name === pod)!, targets, on)), []],
    ['enabled, pod without a report (older agent, unreachable, refused report)', on, () => undefined, []],
    ['disabled, pod reports enabled', off, () => report(true), ['a', 'b', 'c']],
    ['disabled, pod reports disabled (whatever its hash)', off, () => report(false), []],
  ])('%s', (_name, spec, reportOf, expected) => {
    const reports = new Map(targets.map((t) => [t.name, reportOf(t.name)]));
    const pushes = sessionSharingPushes(spec, targets, reports);
    expect(pushes.map((p) => p.pod.name)).toEqual(expected);
    for (const p of pushes) expect(p.config.enabled).toBe(spec.sessionCache.sharing.enabled);
  });
});

describe('sessionSharingSummary', () => {
  it('sums the pods that reported, stays a safe integer, none reporting is no summary', () => {
    const r = (n: number): PodSessionSharing => ({ enabled: true, configHash: 'a'.repeat(64), peers: 2, counters: { exported: n, sent: 2 * n, received: 3 * n, inserted: 4 * n, dropped: 5 * n, refused: 6 * n } });
    expect(sessionSharingSummary([])).toBeUndefined();
    expect(sessionSharingSummary([undefined])).toBeUndefined();
    expect(sessionSharingSummary([r(1), undefined, r(10)])).toEqual({ podsReporting: 2, exported: 11, sent: 22, received: 33, inserted: 44, dropped: 55, refused: 66 });
    const big = sessionSharingSummary(Array.from({ length: 100 }, () => r(MAX_SHARING_COUNTER / 8)))!;
    expect(Number.isSafeInteger(big.refused)).toBe(true);
  });
});

describe('the reconcile shell shares sessions', () => {
  it('sends each pod its peers when the reported hash differs, after the ring, and not again once the pod holds it', async () => {
    const f = fixture({ sets: [sharingSet({ enabled: true })], pods: threePods(), agents: agentsReporting(['10.0.0.1', '10.0.0.2', '10.0.0.3']) });
    const first = await act(f);
    const shares = first.agentCalls.filter((c) => c.startsWith('share'));
    expect(shares.sort()).toEqual(['share 10.0.0.1 on', 'share 10.0.0.2 on', 'share 10.0.0.3 on']);
    // Key delivery first: every ring push precedes every session-sharing config.
    const lastRingPut = Math.max(...first.agentCalls.map((c, i) => (c.startsWith('put ') ? i : -1)));
    const firstShare = first.agentCalls.findIndex((c) => c.startsWith('share'));
    expect(lastRingPut).toBeGreaterThanOrEqual(0);
    expect(firstShare).toBeGreaterThan(lastRingPut);
    const toA = f.agents.sharingPuts.find((p) => p.ip === '10.0.0.1')!.config;
    expect(toA).toEqual({
      enabled: true,
      ttlSeconds: 300,
      maxEntries: 10_000,
      peers: [
        { name: 'b', address: '10.0.0.2:9443', identities: id('b') },
        { name: 'c', address: '10.0.0.3:9443', identities: id('c') },
      ],
    });

    const second = await act(f);
    expect(second.agentCalls.filter((c) => c.startsWith('share'))).toEqual([]);
  });

  it('sends the new peer list to the others when a pod goes terminating, and never to the terminating pod', async () => {
    const f = fixture({ sets: [sharingSet({ enabled: true })], pods: threePods(), agents: agentsReporting(['10.0.0.1', '10.0.0.2', '10.0.0.3']) });
    await act(f);
    f.podSource.upsert(fakePod('c', { ip: '10.0.0.3', terminating: true }));
    const after = await act(f);
    expect(after.agentCalls.filter((c) => c.startsWith('share')).sort()).toEqual(['share 10.0.0.1 on', 'share 10.0.0.2 on']);
    expect(f.agents.sharingPuts.at(-1)!.config.peers.map((p) => p.name)).toEqual([f.agents.sharingPuts.at(-1)!.ip === '10.0.0.1' ? 'b' : 'a']);
  });

  it('disabled in the spec: a pod reporting sharing on is told enabled=false; pods already off and older agents are left alone', async () => {
    const agents = agentsReporting(['10.0.0.1', '10.0.0.2'], (ip) => (ip === '10.0.0.1' ? { ...fresh(), enabled: true, configHash: 'b'.repeat(64), peers: 2 } : fresh()));
    const f = fixture({ pods: threePods(), agents }); // 10.0.0.3: no sessionSharing at all
    const acted = await act(f);
    expect(acted.agentCalls.filter((c) => c.startsWith('share'))).toEqual(['share 10.0.0.1 off']);
    expect(f.agents.sharingPuts[0]!.config).toEqual({ enabled: false, ttlSeconds: 300, maxEntries: 10_000, peers: [] });
    expect((await act(f)).agentCalls.filter((c) => c.startsWith('share'))).toEqual([]);
  });

  it('refuses a hostile report (that pod is left alone, warned once), the other pods and the keys are unaffected', async () => {
    const hostile = { ...fresh(), configHash: '../../etc', sent: -5 };
    const agents = agentsReporting(['10.0.0.1', '10.0.0.2'], (ip) => (ip === '10.0.0.2' ? hostile : fresh({ exported: 3 })));
    const { logger, lines } = capturingLogger();
    const f = fixture({ sets: [sharingSet({ enabled: true })], agents, logger });
    const first = await act(f);
    expect(first.agentCalls.filter((c) => c.startsWith('share'))).toEqual(['share 10.0.0.1 on']);
    expect(first.agentCalls.filter((c) => c.startsWith('put ')).sort()).toEqual(['put 10.0.0.1 1', 'put 10.0.0.2 1']);
    await act(f);
    await new Promise((r) => setImmediate(r));
    const warnings = lines.filter((l) => l.message === 'pod reports a session-sharing status the operator refuses');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ pod: 'b', error: expect.stringMatching(/configHash/) });
    expect(JSON.stringify(lines)).not.toContain('../../etc');
    const status = f.current().status!;
    expect(status.pods!.converged).toBe(2);
    expect(status.pods!.items!.every((i) => i.error === undefined)).toBe(true);
    expect(status.pods!.sessionSharing).toEqual({ podsReporting: 1, exported: 3, sent: 0, received: 0, inserted: 0, dropped: 0, refused: 0 });
  });

  it('a failed send is logged and counted, never stops the reconcile, and is tried again next time', async () => {
    const agents = agentsReporting(['10.0.0.1', '10.0.0.2']);
    agents.sharingFails.add('10.0.0.2');
    const metrics = new OperatorMetrics();
    const f = fixture({ sets: [sharingSet({ enabled: true })], agents, options: { metrics: metrics.ticketKeys } });
    const first = await act(f);
    expect(first.agentCalls.filter((c) => c.startsWith('share')).sort()).toEqual(['share 10.0.0.1 on', 'share 10.0.0.2 on']);
    expect(f.current().status!.pods!.converged).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('ticketkeys_session_sharing_config_pushes_total{result="success"} 1');
    expect(text).toContain('ticketkeys_session_sharing_config_pushes_total{result="error"} 1');
    agents.sharingFails.clear();
    expect((await act(f)).agentCalls.filter((c) => c.startsWith('share'))).toEqual(['share 10.0.0.2 on']);
  });

  it('status.pods.sessionSharing sums the reports only while sharing is on; metrics per pod and direction, gone with the pod', async () => {
    const agents = agentsReporting(['10.0.0.1', '10.0.0.2'], (ip) => (ip === '10.0.0.1' ? fresh({ exported: 4, sent: 8, refused: 1 }) : fresh({ received: 8, inserted: 7, dropped: 1 })));
    const metrics = new OperatorMetrics();
    const f = fixture({ sets: [sharingSet({ enabled: true })], agents, options: { metrics: metrics.ticketKeys } });
    await act(f);
    expect(f.current().status!.pods!.sessionSharing).toEqual({ podsReporting: 2, exported: 4, sent: 8, received: 8, inserted: 7, dropped: 1, refused: 1 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('ticketkeys_pod_session_sharing_sessions{namespace="ns",ticketkeyset="web",pod="a",direction="sent"} 8');
    expect(text).toContain('ticketkeys_pod_session_sharing_sessions{namespace="ns",ticketkeyset="web",pod="b",direction="inserted"} 7');

    f.podSource.remove(fakePod('b', { ip: '10.0.0.2' }));
    f.editSpec({ sessionCache: { sharing: { enabled: false } } });
    const off = await act(f);
    expect(off.agentCalls.filter((c) => c.startsWith('share'))).toEqual(['share 10.0.0.1 off']);
    expect(f.current().status!.pods!.sessionSharing).toBeUndefined();
    expect(off.statusWrites.at(-1)).toMatchObject({ pods: { sessionSharing: null } });
    const afterOff = await metrics.registry.metrics();
    expect(afterOff).not.toContain('pod="b"');
    // Sharing off: no per-pod sharing series at all, although pod a's agent still reports counters.
    expect(afterOff).not.toContain('ticketkeys_pod_session_sharing_sessions{');
  });

  it('keeps no per-pod sharing series for a set that never shared, whatever its agents report', async () => {
    const agents = agentsReporting(['10.0.0.1', '10.0.0.2'], () => fresh({ exported: 2 }));
    const metrics = new OperatorMetrics();
    const f = fixture({ sets: [sharingSet({ enabled: false })], agents, options: { metrics: metrics.ticketKeys } });
    await act(f);
    expect(f.current().status!.pods!.converged).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('ticketkeys_pods_converged{namespace="ns",name="web"} 2');
    expect(text).not.toContain('ticketkeys_pod_session_sharing_sessions{');
  });
});
