// The ConfigConsistent condition in the reconcile shell: spec.atsConfig.configMapRef read through
// a fake ConfigMap port, each reason as a condition and a Warning Event on each change of reason,
// a Normal Event back to Consistent, one parse per resourceVersion, and key delivery unaffected
// by missing, unreadable or hostile ConfigMaps.
import { describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import { parseAtsConfigFiles } from '../../../../src/core/ats-config/config-map-files.ts';
import type { ConfigFile } from '../../../../src/core/ats-config/config-hash.ts';
import type { ConfigMapPort, ReadConfigMap } from '../../../../src/operator/kube/config-map-reader.ts';
import type { ObjectRef } from '../../../../src/operator/runtime/object-key.ts';
import { ConfigConsistencyChecker } from '../../../../src/operator/reconciler/config-consistency.ts';
import type { GetRingResponse } from '../../../../src/agent/protocol.ts';
import { configFilesHash, configMapFiles } from '../../../../src/core/ats-config/config-hash.ts';
import type { AgentAddress } from '../../../../src/operator/reconciler/agents.ts';
import { aTicketKeySet, fixture } from './builders.ts';
import { FakeAgents } from './fakes.ts';

/** ConfigMaps by name, with a resourceVersion bumped on every write; `failing` makes GET throw. */
class FakeConfigMaps implements ConfigMapPort {
  readonly maps = new Map<string, ReadConfigMap>();
  readonly gets: string[] = [];
  failing = false;
  private version = 0;

  set(name: string, data: Record<string, string>, binaryData: Record<string, string> = {}): void {
    this.maps.set(name, { resourceVersion: String(++this.version), data, binaryData });
  }

  get(ref: ObjectRef): Promise<ReadConfigMap | undefined> {
    this.gets.push(`${ref.namespace}/${ref.name}`);
    if (this.failing) return Promise.reject(new Error('configmap ns/ats: request timed out'));
    return Promise.resolve(this.maps.get(ref.name));
  }
}

/** Agents that also report the configuration they applied (agents started with --config-dir). */
class ReportingAgents extends FakeAgents {
  readonly config = new Map<string, { configHash?: string; lastReload?: { time: string; configHash: string; trigger: string; keysReasserted: boolean; windowMs: number } }>();

  override async getRing(to: AgentAddress): Promise<GetRingResponse> {
    const ring = await super.getRing(to);
    return { ...ring, ...(this.config.get(to.ip) ?? {}) } as GetRingResponse;
  }
}

const CONSISTENT = {
  'records.config': 'CONFIG proxy.config.ssl.session_cache.timeout INT 3600\n',
  'ssl_multicert.config': 'dest_ip=* ssl_cert_name=a.pem\n',
};

/** rotation.interval 1h and no ticketLifetime: tickets may be resumed for 1h. */
const tksObject = (spec: Partial<TicketKeySet['spec']> = {}): TicketKeySet => aTicketKeySet().spec({ atsConfig: { configMapRef: { name: 'ats' } }, ...spec }).build();

function setup(spec: Partial<TicketKeySet['spec']> = {}) {
  const agents = new ReportingAgents();
  const configMaps = new FakeConfigMaps();
  const f = fixture({ sets: [tksObject(spec)], agents, options: { configMaps } });
  const condition = () => f.current().status?.conditions?.find((c) => c.type === 'ConfigConsistent');
  const configEvents = () => f.events.filter((e) => !e.reason.startsWith('Key') && e.reason !== 'RotationComplete');
  return { ...f, agents, configMaps, condition, configEvents, rotate: (token: string) => f.annotate({ 'ticketkeys.dev/rotate-now': token }) };
}

const CASES: Array<{ reason: string; status: string; data?: Record<string, string>; spec?: Partial<TicketKeySet['spec']>; message: string }> = [
  {
    reason: 'RelativeTicketKeyFile',
    status: 'False',
    data: { ...CONSISTENT, 'records.config': `${CONSISTENT['records.config']}CONFIG proxy.config.ssl.server.ticket_key.filename STRING ticket.key\n` },
    message: 'records.config line 2: proxy.config.ssl.server.ticket_key.filename is the relative path "ticket.key"',
  },
  {
    reason: 'TicketKeyFileOverridesPushedKeys',
    status: 'False',
    data: { ...CONSISTENT, 'records.config': `${CONSISTENT['records.config']}CONFIG proxy.config.ssl.server.ticket_key.filename STRING /etc/tko/ticket.key\n` },
    message: 'enable spec.fileFallback',
  },
  {
    reason: 'DestIpLinesUsePrivateKeys',
    status: 'False',
    data: { ...CONSISTENT, 'ssl_multicert.config': 'dest_ip=* ssl_cert_name=a.pem\ndest_ip=10.1.2.3 ssl_cert_name=b.pem\n' },
    message: 'ssl_multicert.config line 2 (dest_ip=10.1.2.3)',
  },
  {
    reason: 'SessionTicketsDisabled',
    status: 'False',
    data: { ...CONSISTENT, 'records.config': `${CONSISTENT['records.config']}CONFIG proxy.config.ssl.server.session_ticket.enable INT 0\n` },
    message: 'session_ticket.enable is 0',
  },
  {
    reason: 'TicketLifetimeHintExceedsRetention',
    status: 'False',
    data: { ...CONSISTENT, 'records.config': 'CONFIG proxy.config.ssl.session_cache.timeout INT 86400\n' },
    message: 'longer than spec.ticketLifetime (1h)',
  },
  { reason: 'ConfigMapNotFound', status: 'Unknown', message: 'ConfigMap ats (spec.atsConfig.configMapRef) does not exist' },
  {
    reason: 'ConfigUnparseable',
    status: 'Unknown',
    data: { ...CONSISTENT, 'records.config': `${CONSISTENT['records.config']}CONFIG half INT\n` },
    message: 'records.config: line 2: expected `CONFIG name TYPE value`',
  },
];

describe('ConfigConsistent in the reconcile', () => {
  it.each(CASES)('$reason: condition, message and one Warning Event; keys delivered all the same', async (c) => {
    const f = setup(c.spec);
    if (c.data) f.configMaps.set('ats', c.data);
    await f.reconcile();
    expect(f.condition()).toMatchObject({ status: c.status, reason: c.reason, message: expect.stringContaining(c.message) });
    expect(f.configEvents()).toEqual([expect.objectContaining({ type: 'Warning', reason: c.reason, note: expect.stringContaining(c.message) })]);
    expect(f.agents.held.get('10.0.0.1')?.generation).toBe(1);
    expect(f.agents.held.get('10.0.0.2')?.generation).toBe(1);
    // The same reason again: no second Event.
    await f.reconcile();
    expect(f.configEvents()).toHaveLength(1);
  });

  it('is Consistent without an Event at first; a Warning on each change of reason, a Normal one when fixed', async () => {
    const f = setup();
    f.configMaps.set('ats', CONSISTENT);
    await f.reconcile();
    expect(f.condition()).toMatchObject({ status: 'True', reason: 'Consistent' });
    expect(f.configEvents()).toEqual([]);
    f.configMaps.set('ats', { ...CONSISTENT, 'records.config': 'CONFIG proxy.config.ssl.session_cache.timeout INT 86400\n' });
    await f.reconcile();
    f.configMaps.set('ats', { ...CONSISTENT, 'ssl_multicert.config': 'dest_ip=10.1.2.3 ssl_cert_name=b.pem\n' });
    await f.reconcile();
    expect(f.condition()?.reason).toBe('DestIpLinesUsePrivateKeys');
    f.configMaps.set('ats', CONSISTENT);
    await f.reconcile();
    expect(f.condition()).toMatchObject({ status: 'True', reason: 'Consistent' });
    expect(f.configEvents().map((e) => [e.type, e.reason])).toEqual([
      ['Warning', 'TicketLifetimeHintExceedsRetention'],
      ['Warning', 'DestIpLinesUsePrivateKeys'],
      ['Normal', 'ConfigConsistent'],
    ]);
  });

  it('accepts an absolute key file with spec.fileFallback.enabled, and measures the hint against spec.ticketLifetime', async () => {
    const data = { ...CONSISTENT, 'records.config': 'CONFIG proxy.config.ssl.session_cache.timeout INT 7200\nCONFIG proxy.config.ssl.server.ticket_key.filename STRING /etc/tko/ticket.key\n' };
    const f = setup({ fileFallback: { enabled: true }, ticketLifetime: '2h' });
    f.configMaps.set('ats', data);
    await f.reconcile();
    expect(f.condition()).toMatchObject({ status: 'True', reason: 'Consistent' });
  });

  it('sets no ConfigConsistent condition and reads no ConfigMap without spec.atsConfig', async () => {
    const f = setup({ atsConfig: {} });
    await f.reconcile();
    expect(f.condition()).toBeUndefined();
    expect(f.configMaps.gets).toEqual([]);
    expect(f.tksSource.get('web', 'ns')!.status?.conditions?.length).toBeLessThanOrEqual(8);
  });

  it('a 1 MiB garbage ConfigMap is reported and never stops a rotation', async () => {
    const f = setup();
    f.configMaps.set('ats', { 'records.config': 'x'.repeat(1024 * 1024 + 1), 'sni.yaml': '\u0000'.repeat(1000) });
    await f.reconcile();
    expect(f.condition()).toMatchObject({ status: 'Unknown', reason: 'ConfigUnparseable' });
    f.rotate('r1');
    await f.reconcile();
    expect(f.tksSource.get('web', 'ns')!.status).toMatchObject({ keyGeneration: 3, phase: 'Stable' });
    expect([...f.agents.held.values()].map((h) => h.generation)).toEqual([3, 3]);
  });

  it('a ConfigMap that cannot be read keeps the last condition, with no Event, and keys still rotate', async () => {
    const f = setup();
    f.configMaps.set('ats', { ...CONSISTENT, 'ssl_multicert.config': 'dest_ip=10.1.2.3 ssl_cert_name=b.pem\n' });
    await f.reconcile();
    f.configMaps.failing = true;
    f.rotate('r1');
    await f.reconcile();
    expect(f.condition()?.reason).toBe('DestIpLinesUsePrivateKeys');
    expect(f.configEvents()).toHaveLength(1);
    expect([...f.agents.held.values()].map((h) => h.generation)).toEqual([3, 3]);
  });
});

describe('ConfigConsistencyChecker', () => {
  it('parses a ConfigMap once per resourceVersion, and again after it changes', async () => {
    const configMaps = new FakeConfigMaps();
    let parses = 0;
    const checker = new ConfigConsistencyChecker(configMaps, (files: readonly ConfigFile[]) => {
      parses++;
      return parseAtsConfigFiles(files);
    });
    const input = { ref: { namespace: 'ns', name: 'ats' }, ticketLifetimeMs: 3_600_000, fileFallbackEnabled: false };
    configMaps.set('ats', { 'records.config': 'y'.repeat(1024 * 1024) });
    const first = await checker.check(input);
    const second = await checker.check(input);
    // A spec change re-analyzes without re-parsing.
    await checker.check({ ...input, fileFallbackEnabled: true });
    expect(parses).toBe(1);
    expect(second).toEqual(first);
    expect(first.configHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    configMaps.set('ats', CONSISTENT);
    const third = await checker.check(input);
    expect(parses).toBe(2);
    expect(third.condition.reason).toBe('Consistent');
    expect(third.configHash).not.toBe(first.configHash);
  });
});

describe('per-pod configuration reloads', () => {
  const hashOf = (data: Record<string, string>) => configFilesHash(configMapFiles(data));
  const reload = (time: number, configHash: string) => ({ time: new Date(time).toISOString(), configHash, trigger: 'agent', keysReasserted: false, windowMs: 0 });

  it('publishes each pod\'s config hash and names pods still on an older one only past the bound', async () => {
    const f = setup();
    const v1 = { ...CONSISTENT, 'remap.config': 'map / http://a/\n' };
    const v2 = { ...CONSISTENT, 'remap.config': 'map / http://b/\n' };
    f.configMaps.set('ats', v1);
    for (const ip of ['10.0.0.1', '10.0.0.2']) f.agents.config.set(ip, { configHash: hashOf(v1), lastReload: reload(f.clock.now(), hashOf(v1)) });
    await f.reconcile();
    const items = f.tksSource.get('web', 'ns')!.status!.pods!.items!;
    expect(items.map((p) => [p.name, p.configHash, p.lastReloadTime])).toEqual([
      ['a', hashOf(v1), new Date(f.clock.now()).toISOString()],
      ['b', hashOf(v1), new Date(f.clock.now()).toISOString()],
    ]);
    // The ConfigMap changes; pod a's kubelet and agent catch up, b's do not.
    f.configMaps.set('ats', v2);
    await f.reconcile();
    await f.clock.advance(90_000);
    f.agents.config.set('10.0.0.1', { configHash: hashOf(v2), lastReload: reload(f.clock.now(), hashOf(v2)) });
    await f.reconcile();
    expect(f.condition()?.message).not.toContain('older configuration');
    await f.clock.advance(100_000);
    await f.reconcile();
    expect(f.condition()).toMatchObject({ status: 'True', reason: 'Consistent', message: expect.stringContaining('pods still on an older configuration 3m after') });
    expect(f.condition()?.message).toMatch(/older configuration[^;]*: b$/);
    f.agents.config.set('10.0.0.2', { configHash: hashOf(v2), lastReload: reload(f.clock.now(), hashOf(v2)) });
    await f.reconcile();
    expect(f.condition()?.message).not.toContain('older configuration');
  });

  it('ignores malformed reports from a pod', async () => {
    const f = setup();
    f.configMaps.set('ats', CONSISTENT);
    f.agents.config.set('10.0.0.1', { configHash: 'sha256:nothex', lastReload: { time: '+999999-01-01T00:00:00Z', configHash: 'x', trigger: 'agent', keysReasserted: false, windowMs: 0 } });
    await f.reconcile();
    const a = f.tksSource.get('web', 'ns')!.status!.pods!.items!.find((p) => p.name === 'a')!;
    expect(a.configHash).toBeUndefined();
    expect(a.lastReloadTime).toBeUndefined();
    expect(a.generation).toBe(1);
  });

  it('re-pushes a pod that lost the ring in a reload as ReloadDriftCorrected; other drift stays DriftRepaired', async () => {
    const f = setup();
    f.configMaps.set('ats', CONSISTENT);
    await f.reconcile();
    await f.clock.advance(60_000);
    // Pod a: ATS reloaded after its last acknowledgement and no longer holds the ring.
    f.agents.config.set('10.0.0.1', { configHash: hashOf(CONSISTENT), lastReload: reload(f.clock.now() - 1000, hashOf(CONSISTENT)) });
    f.agents.held.delete('10.0.0.1');
    // Pod b: lost it with no reload (a restart).
    f.agents.held.delete('10.0.0.2');
    await f.reconcile();
    const drift = f.events.filter((e) => e.reason === 'ReloadDriftCorrected' || e.reason === 'DriftRepaired');
    expect(drift.map((e) => [e.reason, e.related?.name])).toEqual([
      ['ReloadDriftCorrected', 'a'],
      ['DriftRepaired', 'b'],
    ]);
    expect(drift[0]!.note).toContain('after ATS reloaded its configuration');
    expect([...f.agents.held.values()].map((h) => h.generation)).toEqual([1, 1]);
  });
});
