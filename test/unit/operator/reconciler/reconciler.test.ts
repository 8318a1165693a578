// The reconcile shell with its I/O faked (informer caches, Secret store, agents, status writer,
// events, pod conditions): what one reconcile reads, writes and pushes, in which order.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import type { ReconcileContext } from '../../../../src/operator/runtime/controller.ts';
import type { EventInput } from '../../../../src/operator/kube/event-recorder.ts';
import type { PodConditionUpdate } from '../../../../src/operator/kube/pod-readiness.ts';
import { TicketKeySetReconciler } from '../../../../src/operator/reconciler/reconciler.ts';
import { FakeClock } from '../runtime/fake-clock.ts';
import { FakeSource } from '../runtime/fake-source.ts';
import { silentLogger } from '../logger.ts';
import { eventsInto, FakeAgents, fakePod, FakeSecrets, statusInto } from './fakes.ts';

function tksObject(annotations: Record<string, string> = {}): TicketKeySet {
  return {
    apiVersion: 'ticketkeys.dev/v1alpha1',
    kind: 'TicketKeySet',
    metadata: { name: 'web', namespace: 'ns', uid: 'tks-uid', generation: 1, annotations },
    spec: { selector: { matchLabels: { app: 'ats' } }, rotation: { interval: '1h' }, promotion: { timeout: '1m' } },
  };
}

function setup(pods: V1Pod[] = [fakePod('a', { ip: '10.0.0.1' }), fakePod('b', { ip: '10.0.0.2' })]) {
  const clock = new FakeClock();
  const tksSource = new FakeSource<TicketKeySet>({ objects: [tksObject()] });
  const podSource = new FakeSource<V1Pod>({ objects: pods });
  const secrets = new FakeSecrets();
  const agents = new FakeAgents();
  const events: EventInput[] = [];
  const statusWrites: Array<Record<string, unknown>> = [];
  const conditions: Array<{ pod: string; update: PodConditionUpdate }> = [];
  const reconciler = new TicketKeySetReconciler({
    ticketKeySets: tksSource,
    pods: podSource,
    secrets,
    status: statusInto(tksSource, (status) => statusWrites.push(status)),
    events: eventsInto(events),
    readiness: {
      setCondition: (pod, update) => {
        conditions.push({ pod: pod.metadata!.name!, update });
        return Promise.resolve(undefined);
      },
    },
    agents,
    clock,
  });
  const ctx: ReconcileContext = { namespace: 'ns', name: 'web', logger: silentLogger(), retries: 0 };
  const reconcile = () => reconciler.reconcile('ns/web', ctx);
  return { clock, tksSource, podSource, secrets, agents, events, statusWrites, conditions, reconcile };
}

describe('TicketKeySetReconciler', () => {
  it('creates the Secret before pushing the first ring to every pod, then reports 2/2', async () => {
    const f = setup();
    const result = await f.reconcile();
    expect(f.secrets.writes).toBe(1);
    expect(f.agents.calls).toEqual(['get 10.0.0.1', 'get 10.0.0.2', 'put 10.0.0.1 1', 'put 10.0.0.2 1']);
    const status = f.tksSource.get('web', 'ns')!.status!;
    expect(status).toMatchObject({ keyGeneration: 1, phase: 'Stable', pods: { total: 2, converged: 2, summary: '2/2' }, secretName: 'web-ticket-keys', observedGeneration: 1 });
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(f.events.map((e) => e.reason)).toEqual(['KeyCreated']);
    expect(result).toEqual({ requeueAfterMs: 60_000 });
  });

  it('is idempotent: a second reconcile with nothing changed writes neither Secret nor status', async () => {
    const f = setup();
    await f.reconcile();
    const writes = f.statusWrites.length;
    f.agents.calls.length = 0;
    await f.reconcile();
    expect(f.secrets.writes).toBe(1);
    expect(f.statusWrites.length).toBe(writes);
    expect(f.agents.calls).toEqual(['get 10.0.0.1', 'get 10.0.0.2']);
  });

  it('carries a requested rotation from stage to promoted within one reconcile when every pod acknowledges', async () => {
    const f = setup();
    await f.reconcile();
    const before = f.tksSource.get('web', 'ns')!.status!;
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    f.agents.calls.length = 0;
    await f.reconcile();
    const after = f.tksSource.get('web', 'ns')!.status!;
    expect(after.keyGeneration).toBe(3);
    expect(after.phase).toBe('Stable');
    expect(after.retiredKeys?.map((k) => k.fingerprint)).toEqual([before.activeKey!.fingerprint]);
    expect(f.agents.calls.filter((c) => c.startsWith('put'))).toEqual(['put 10.0.0.1 2', 'put 10.0.0.2 2', 'put 10.0.0.1 3', 'put 10.0.0.2 3']);
    expect(f.events.map((e) => e.reason)).toEqual(['KeyCreated', 'KeyStaged', 'KeyPromoted', 'KeyRetired', 'RotationComplete']);
    expect(f.secrets.stored?.annotations['ticketkeys.dev/rotate-now-handled']).toBe('x');
  });

  it('does not promote while a Ready pod lacks the staged key', async () => {
    const f = setup();
    await f.reconcile();
    f.agents.down.add('10.0.0.2');
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    await f.reconcile();
    const status = f.tksSource.get('web', 'ns')!.status!;
    expect(status.phase).toBe('Staging');
    expect(status.pods?.items?.[0]).toMatchObject({ name: 'b', generation: 1, error: expect.stringContaining('unreachable') });
  });

  it('stops at a Secret conflict: no push, no status, requeue', async () => {
    const f = setup();
    await f.reconcile();
    f.secrets.conflictNext = true;
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    f.agents.calls.length = 0;
    const writes = f.statusWrites.length;
    expect(await f.reconcile()).toEqual({ requeue: true });
    expect(f.agents.calls.filter((c) => c.startsWith('put'))).toEqual([]);
    expect(f.statusWrites.length).toBe(writes);
  });

  it('never overwrites a Secret written in a format it does not read (a newer operator); reports SecretUnusable', async () => {
    const f = setup();
    await f.reconcile();
    f.secrets.stored!.data['ring.json'] = Buffer.from(JSON.stringify({ version: 99 }));
    const writes = f.secrets.writes;
    expect(await f.reconcile()).toEqual({ requeueAfterMs: 60_000 });
    expect(f.secrets.writes).toBe(writes);
    const degraded = f.tksSource.get('web', 'ns')!.status!.conditions!.find((c) => c.type === 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'SecretUnusable' });
    expect(f.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'SecretUnusable' });
  });

  it.each([
    ['deleted', 'SecretDeleted', (f: ReturnType<typeof setup>) => void (f.secrets.stored = undefined)],
    ['corrupt', 'SecretCorrupt', (f: ReturnType<typeof setup>) => void (f.secrets.stored!.data['ring.json'] = Buffer.from('{not json'))],
  ])('regenerates a %s Secret above every generation pods hold, without reusing its bytes (%s)', async (_what, reason, damage) => {
    const f = setup();
    await f.reconcile();
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    await f.reconcile();
    const before = f.tksSource.get('web', 'ns')!.status!;
    expect(before.keyGeneration).toBe(3);
    damage(f);
    await f.reconcile();
    const after = f.tksSource.get('web', 'ns')!.status!;
    expect(after.keyGeneration).toBe(4);
    expect(after.phase).toBe('Stable'); // both pods acknowledged the regenerated ring
    expect(after.activeKey!.fingerprint).not.toBe(before.activeKey!.fingerprint);
    expect(after.retiredKeys).toEqual([]);
    expect(f.agents.held.get('10.0.0.1')?.generation).toBe(4);
    expect(f.events.find((e) => e.reason === 'SecretRegenerated')).toMatchObject({ type: 'Warning', note: expect.stringContaining(reason === 'SecretDeleted' ? 'is gone' : 'unreadable') });
    expect(f.secrets.stored).toBeDefined();
  });

  it('treats a Secret rolled back to an older generation (a restored backup) as tampered: new ring, no rollback', async () => {
    const f = setup();
    await f.reconcile();
    const old = { ...f.secrets.stored!, data: { ...f.secrets.stored!.data }, annotations: { ...f.secrets.stored!.annotations } };
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    await f.reconcile();
    f.secrets.stored = { ...old, resourceVersion: f.secrets.stored!.resourceVersion };
    await f.reconcile();
    const status = f.tksSource.get('web', 'ns')!.status!;
    expect(status.keyGeneration).toBe(4);
    expect(f.events.find((e) => e.reason === 'SecretRegenerated')?.note).toContain('older than the issued generation 3');
    expect([...f.agents.held.values()].every((h) => h.generation === 4)).toBe(true);
  });

  it('fails open: an unreachable agent never switches a serving pod\'s gate to False, and the key stays staged', async () => {
    const f = setup([fakePod('a', { ip: '10.0.0.1', gate: true }), fakePod('b', { ip: '10.0.0.2', gate: true })]);
    await f.reconcile();
    expect(f.conditions.map((c) => [c.pod, c.update.status])).toEqual([['a', true], ['b', true]]);
    f.podSource.upsert(fakePod('a', { ip: '10.0.0.1', gate: true, gateTrue: true }));
    f.podSource.upsert(fakePod('b', { ip: '10.0.0.2', gate: true, gateTrue: true }));
    f.conditions.length = 0;
    f.agents.down.add('10.0.0.1');
    f.agents.down.add('10.0.0.2');
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    for (let i = 0; i < 5; i++) {
      await f.reconcile();
      await f.clock.advance(30_000);
    }
    expect(f.conditions.filter((c) => !c.update.status)).toEqual([]);
    const status = f.tksSource.get('web', 'ns')!.status!;
    expect(status).toMatchObject({ phase: 'Staging', keyGeneration: 2, pods: { total: 2, converged: 0, summary: '0/2' } });
    expect(status.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Staging' });
    expect(status.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'PromotionTimedOut' });
    // Healed: the staged key is acknowledged, promoted, and the set converges.
    f.agents.down.clear();
    await f.clock.advance(120_000);
    await f.reconcile();
    expect(f.tksSource.get('web', 'ns')!.status).toMatchObject({ phase: 'Stable', keyGeneration: 3, pods: { converged: 2 } });
  });

  it('takes a serving pod on a ring the fleet cannot decrypt out only within availability.maxUnavailable', async () => {
    const pods = ['a', 'b', 'c'].map((n, i) => fakePod(n, { ip: `10.0.0.${i + 1}`, gate: true, gateTrue: true }));
    const f = setup(pods);
    await f.reconcile();
    f.conditions.length = 0;
    // a and b: ATS lost every pushed key, the agent answers so, and installs keep failing.
    f.agents.held.delete('10.0.0.1');
    f.agents.held.delete('10.0.0.2');
    const original = f.agents.putRing.bind(f.agents);
    f.agents.putRing = (to, ring) => (to.ip === '10.0.0.3' ? original(to, ring) : Promise.reject(new Error('install failed')));
    await f.reconcile();
    expect(f.conditions.filter((c) => !c.update.status).map((c) => [c.pod, c.update.reason])).toEqual([['a', 'RingNotDecryptable']]);
    // a is out (not Ready now): the bound of 1 is used up, so b stays in service and Degraded says why.
    f.podSource.upsert(fakePod('a', { ip: '10.0.0.1', gate: true, ready: false }));
    f.conditions.length = 0;
    await f.clock.advance(5_000);
    await f.reconcile();
    expect(f.conditions.filter((c) => !c.update.status).map((c) => c.pod)).toEqual(['a']); // a stays out; b is not taken out
    const degraded = f.tksSource.get('web', 'ns')!.status!.conditions!.find((c) => c.type === 'Degraded')!;
    expect(degraded.message).toContain('availability.maxUnavailable reached: b hold a ring the other pods cannot decrypt');
    // With maxUnavailable 0 nothing is ever taken out.
    const g = setup(['a', 'b'].map((n, i) => fakePod(n, { ip: `10.0.0.${i + 1}`, gate: true, gateTrue: true })));
    g.tksSource.upsert({ ...g.tksSource.get('web', 'ns')!, spec: { ...tksObject().spec, availability: { maxUnavailable: 0 } } });
    await g.reconcile();
    g.agents.held.delete('10.0.0.1');
    g.agents.putRing = () => Promise.reject(new Error('install failed'));
    g.conditions.length = 0;
    await g.reconcile();
    expect(g.conditions.filter((c) => !c.update.status)).toEqual([]);
  });

  it('refuses a pod\'s claim of a generation never issued: its error, an Event once, rotation goes on for the others', async () => {
    const f = setup([fakePod('a', { ip: '10.0.0.1' }), fakePod('b', { ip: '10.0.0.2' }), fakePod('x', { ip: '10.0.0.9' })]);
    await f.reconcile();
    f.agents.held.set('10.0.0.9', { generation: 2 ** 53 - 1, ringFingerprint: 'aaaaaaaaaaaaaaaa' });
    await f.reconcile();
    await f.reconcile();
    expect(f.events.filter((e) => e.reason === 'GenerationOutOfRange')).toHaveLength(1);
    let status = f.tksSource.get('web', 'ns')!.status!;
    expect(status.keyGeneration).toBe(1);
    expect(status.pods?.items?.[0]).toMatchObject({ name: 'x', error: expect.stringContaining('above the highest generation issued (1)') });
    expect(status.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'GenerationOutOfRange' });
    // A rotation still reaches a and b; x is not Ready here, so it does not hold the gate.
    f.podSource.upsert(fakePod('x', { ip: '10.0.0.9', ready: false }));
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    await f.reconcile();
    status = f.tksSource.get('web', 'ns')!.status!;
    expect(status).toMatchObject({ keyGeneration: 3, phase: 'Stable' });
    expect(f.agents.held.get('10.0.0.1')?.generation).toBe(3);
  });

  it('leaves pods an older TicketKeySet also selects to that set and reports SelectorConflict', async () => {
    const f = setup([fakePod('a', { ip: '10.0.0.1', labels: { app: 'ats', tier: 'edge' } }), fakePod('b', { ip: '10.0.0.2' })]);
    const older: TicketKeySet = {
      ...tksObject(),
      metadata: { name: 'edge', namespace: 'ns', uid: 'older-uid', generation: 1, creationTimestamp: new Date(0) as never },
      spec: { selector: { matchLabels: { tier: 'edge' } } },
    };
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...f.tksSource.get('web', 'ns')!.metadata, creationTimestamp: new Date(1000) as never } });
    f.tksSource.upsert(older);
    await f.reconcile();
    expect(f.agents.calls).toEqual(['get 10.0.0.2', 'put 10.0.0.2 1']);
    const status = f.tksSource.get('web', 'ns')!.status!;
    expect(status.pods).toMatchObject({ total: 1, converged: 1 });
    expect(status.conditions!.find((c) => c.type === 'SelectorConflict')).toMatchObject({
      status: 'True',
      reason: 'SelectorConflict',
      message: expect.stringContaining('a (kept by the older TicketKeySet edge)'),
    });
  });

  it('sets keys-installed on gated pods: False while the agent is unreachable, True once it holds the ring', async () => {
    const f = setup([fakePod('g', { ip: '10.0.0.9', gate: true, ready: false })]);
    f.agents.down.add('10.0.0.9');
    await f.reconcile();
    expect(f.conditions.at(-1)).toEqual({ pod: 'g', update: { status: false, reason: 'AgentUnreachable', message: 'the agent did not acknowledge generation 1' } });
    f.agents.down.delete('10.0.0.9');
    await f.clock.advance(120_000); // past the push retry backoff
    await f.reconcile();
    expect(f.conditions.at(-1)).toEqual({ pod: 'g', update: { status: true, reason: 'RingInstalled', message: 'the agent holds the current ring (generation 1)' } });
  });

  it('re-pushes to a pod that lost the current ring and records DriftRepaired', async () => {
    const f = setup();
    await f.reconcile();
    f.agents.held.delete('10.0.0.2'); // ATS restarted: nothing installed
    await f.reconcile();
    const drift = f.events.find((e) => e.reason === 'DriftRepaired');
    expect(drift).toMatchObject({ type: 'Warning', related: { kind: 'Pod', name: 'b' } });
    expect(f.agents.held.get('10.0.0.2')?.generation).toBe(1);
  });
});
