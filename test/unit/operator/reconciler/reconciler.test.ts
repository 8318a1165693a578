// The reconcile shell with its I/O faked (informer caches, Secret store, agents, status writer,
// events, pod conditions): what one reconcile reads, writes and pushes, in which order.
// Table-driven (cert-manager's builder and expected-actions pattern): each case builds its
// objects (builders.ts), arranges what happened before (earlier reconciles, agent answers,
// damage), runs one reconcile and states what that reconcile did. Stories that need several
// reconciles with checks in between follow the table.
import { describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import type { ReconcileResult } from '../../../../src/operator/runtime/controller.ts';
import { act, aTicketKeySet, conditionOf, fixture, type Acted, type Fixture, type Given } from './builders.ts';
import { decodeStored, fakePod } from './fakes.ts';

const ROTATE_NOW = 'ticketkeys.dev/rotate-now';

interface Expected {
  result?: ReconcileResult;
  /** Secret creates and updates in this reconcile. */
  secretWrites?: number;
  /** Every agent call in this reconcile, in order. */
  agentCalls?: string[];
  /** The pushes ('put <ip> <generation>') in this reconcile, in order. */
  pushes?: string[];
  /** Reasons of the Events this reconcile recorded, in order. */
  events?: string[];
  /** Whether this reconcile patched the status. */
  statusWritten?: boolean;
  /** The set's status afterwards (toMatchObject). */
  status?: Record<string, unknown>;
  /** Conditions of the set's status afterwards, by type (toMatchObject). */
  conditions?: Record<string, Record<string, unknown>>;
}

interface Case {
  name: string;
  given?: () => Given;
  /** What happened before the reconcile under test; may return what `then` compares with. */
  arrange?: (f: Fixture) => Promise<unknown>;
  expect: Expected;
  /** Checks the table has no column for. */
  then?: (f: Fixture, acted: Acted, arranged: unknown) => void;
}

/** A reconcile that leaves the first ring on every pod. */
const firstRing = async (f: Fixture): Promise<TicketKeySet['status']> => {
  await f.reconcile();
  return f.current().status;
};

/** The first ring, then a rotation asked for with rotate-now (generation 3, Stable), then `damage`. */
const rotatedThen = (damage: (f: Fixture) => void) => async (f: Fixture) => {
  await f.reconcile();
  f.annotate({ [ROTATE_NOW]: 'x' });
  await f.reconcile();
  const before = f.current().status!;
  expect(before.keyGeneration).toBe(3);
  damage(f);
  return before;
};

const cases: Case[] = [
  {
    name: 'creates the Secret before pushing the first ring to every pod, then reports 2/2',
    expect: {
      result: { requeueAfterMs: 60_000, resync: true },
      secretWrites: 1,
      agentCalls: ['get 10.0.0.1', 'get 10.0.0.2', 'put 10.0.0.1 1', 'put 10.0.0.2 1'],
      events: ['KeyCreated'],
      status: { keyGeneration: 1, phase: 'Stable', pods: { total: 2, converged: 2, summary: '2/2' }, secretName: 'web-ticket-keys', observedGeneration: 1 },
      conditions: { Ready: { status: 'True' } },
    },
  },
  {
    name: 'is idempotent: a second reconcile with nothing changed writes neither Secret nor status',
    arrange: firstRing,
    expect: { secretWrites: 0, statusWritten: false, agentCalls: ['get 10.0.0.1', 'get 10.0.0.2'], events: [] },
  },
  {
    name: 'carries a requested rotation from stage to promoted within one reconcile when every pod acknowledges',
    arrange: async (f) => {
      const before = await firstRing(f);
      f.annotate({ [ROTATE_NOW]: 'x' });
      return before;
    },
    expect: {
      pushes: ['put 10.0.0.1 2', 'put 10.0.0.2 2', 'put 10.0.0.1 3', 'put 10.0.0.2 3'],
      events: ['KeyStaged', 'KeyPromoted', 'KeyRetired', 'RotationComplete'],
      status: { keyGeneration: 3, phase: 'Stable' },
    },
    then: (f, _acted, before) => {
      expect(f.current().status!.retiredKeys?.map((k) => k.fingerprint)).toEqual([(before as TicketKeySet['status'])!.activeKey!.fingerprint]);
      expect(decodeStored(f.secrets.stored!).handledRotateNowToken).toBe('x');
      expect(f.secrets.stored?.annotations).not.toHaveProperty('ticketkeys.dev/rotate-now-handled');
    },
  },
  {
    name: 'does not promote while a Ready pod lacks the staged key',
    arrange: async (f) => {
      await firstRing(f);
      f.agents.down.add('10.0.0.2');
      f.annotate({ [ROTATE_NOW]: 'x' });
    },
    expect: { events: ['KeyStaged'], status: { phase: 'Staging' } },
    then: (f) => expect(f.current().status!.pods?.items?.[0]).toMatchObject({ name: 'b', generation: 1, error: expect.stringContaining('unreachable') }),
  },
  {
    name: 'stops at a Secret conflict: no push, no status, requeue',
    arrange: async (f) => {
      await firstRing(f);
      f.secrets.conflictNext = true;
      f.annotate({ [ROTATE_NOW]: 'x' });
    },
    expect: { result: { requeue: true }, secretWrites: 0, pushes: [], statusWritten: false },
  },
  {
    name: 'never overwrites a Secret written in a format it does not read (a newer operator); reports SecretUnusable',
    arrange: async (f) => {
      await firstRing(f);
      f.secrets.stored!.data['ring.json'] = Buffer.from(JSON.stringify({ version: 99 }));
    },
    expect: { result: { requeueAfterMs: 60_000, resync: true }, secretWrites: 0, pushes: [], events: ['SecretUnusable'], conditions: { Degraded: { status: 'True', reason: 'SecretUnusable' } } },
    then: (_f, acted) => expect(acted.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'SecretUnusable', action: 'Load' }),
  },
  {
    name: 'comes back for an unusable Secret after the configured resync period, not a fixed minute',
    given: () => ({ options: { resyncMs: 10_000 } }),
    arrange: async (f) => {
      await firstRing(f);
      f.secrets.stored!.data['ring.json'] = Buffer.from(JSON.stringify({ version: 99 }));
    },
    expect: { result: { requeueAfterMs: 10_000, resync: true }, secretWrites: 0 },
  },
  {
    name: 'never asks to come back later than the configured resync period',
    given: () => ({ options: { resyncMs: 10_000 } }),
    expect: { result: { requeueAfterMs: 10_000, resync: true }, secretWrites: 1 },
  },
  {
    name: 'a rotation due before the resync period is a requeue at normal priority, not a resync',
    given: () => ({ options: { resyncMs: 48 * 3600_000 }, sets: [aTicketKeySet().spec({ rotation: { interval: '1h' } }).build()] }),
    expect: { secretWrites: 1 },
    then: (_f, acted) => {
      expect(acted.result.resync).toBeUndefined();
      expect(acted.result.requeueAfterMs).toBeGreaterThan(0);
      expect(acted.result.requeueAfterMs).toBeLessThanOrEqual(3600_000);
    },
  },
  ...(
    [
      ['deleted', 'is gone', (f: Fixture) => void (f.secrets.stored = undefined)],
      ['corrupt', 'unreadable', (f: Fixture) => void (f.secrets.stored!.data['ring.json'] = Buffer.from('{not json'))],
    ] as const
  ).map(
    ([what, note, damage]): Case => ({
      name: `regenerates a ${what} Secret above every generation pods hold, without reusing its bytes`,
      arrange: rotatedThen(damage),
      // Both pods acknowledged the regenerated ring.
      expect: { pushes: ['put 10.0.0.1 4', 'put 10.0.0.2 4'], status: { keyGeneration: 4, phase: 'Stable', retiredKeys: [] } },
      then: (f, acted, before) => {
        expect(f.current().status!.activeKey!.fingerprint).not.toBe((before as TicketKeySet['status'])!.activeKey!.fingerprint);
        expect(f.agents.held.get('10.0.0.1')?.generation).toBe(4);
        expect(acted.events.find((e) => e.reason === 'SecretRegenerated')).toMatchObject({ type: 'Warning', note: expect.stringContaining(note) });
        expect(f.secrets.stored).toBeDefined();
      },
    }),
  ),
  {
    name: 'treats a Secret rolled back to an older generation (a restored backup) as tampered: new ring, no rollback',
    arrange: async (f) => {
      await f.reconcile();
      const old = { ...f.secrets.stored!, data: { ...f.secrets.stored!.data }, annotations: { ...f.secrets.stored!.annotations } };
      f.annotate({ [ROTATE_NOW]: 'x' });
      await f.reconcile();
      f.secrets.stored = { ...old, resourceVersion: f.secrets.stored!.resourceVersion };
    },
    expect: { status: { keyGeneration: 4 } },
    then: (f, acted) => {
      expect(acted.events.find((e) => e.reason === 'SecretRegenerated')?.note).toContain('older than the issued generation 3');
      expect([...f.agents.held.values()].every((h) => h.generation === 4)).toBe(true);
    },
  },
  {
    name: 'leaves pods an older TicketKeySet also selects to that set and reports SelectorConflict',
    given: () => ({
      sets: [
        aTicketKeySet().createdAt(1000).build(),
        aTicketKeySet('edge').createdAt(0).onlySpec({ selector: { matchLabels: { tier: 'edge' } } }).build(),
      ],
      pods: [fakePod('a', { ip: '10.0.0.1', labels: { app: 'ats', tier: 'edge' } }), fakePod('b', { ip: '10.0.0.2' })],
    }),
    expect: {
      agentCalls: ['get 10.0.0.2', 'put 10.0.0.2 1'],
      status: { pods: { total: 1, converged: 1 } },
      conditions: { SelectorConflict: { status: 'True', reason: 'SelectorConflict', message: expect.stringContaining('a (kept by the older TicketKeySet edge)') } },
    },
  },
  {
    name: 're-pushes to a pod that lost the current ring and records DriftRepaired',
    arrange: async (f) => {
      await firstRing(f);
      f.agents.held.delete('10.0.0.2'); // ATS restarted: nothing installed
    },
    expect: { pushes: ['put 10.0.0.2 1'], events: ['DriftRepaired'] },
    then: (f, acted) => {
      expect(acted.events[0]).toMatchObject({ type: 'Warning', action: 'Push', related: { kind: 'Pod', name: 'b' } });
      expect(f.agents.held.get('10.0.0.2')?.generation).toBe(1);
    },
  },
  {
    name: 'records a policy warning as a Warning Event (the ring bound will defer rotations)',
    given: () => ({ sets: [aTicketKeySet().spec({ ticketLifetime: '24h' }).build()] }),
    expect: { events: ['PolicyWarning', 'KeyCreated'], status: { keyGeneration: 1, phase: 'Stable' } },
    then: (_f, acted) =>
      expect(acted.events[0]).toMatchObject({ type: 'Warning', reason: 'PolicyWarning', action: 'Observe', note: expect.stringContaining('spans more than 14 intervals of 1h') }),
  },
  {
    name: 'records a policy warning once per spec generation, not on every reconcile',
    given: () => ({ sets: [aTicketKeySet().spec({ ticketLifetime: '24h' }).build()] }),
    arrange: firstRing,
    expect: { events: [] },
  },
  {
    name: 'records a policy warning again when the spec changes and still warrants it',
    given: () => ({ sets: [aTicketKeySet().spec({ ticketLifetime: '24h' }).build()] }),
    arrange: async (f) => {
      await firstRing(f);
      f.editSpec({ ticketLifetime: '36h' });
    },
    expect: { events: ['PolicyWarning'], status: { observedGeneration: 2 } },
  },
  {
    name: 'records no policy warning for a policy without one',
    arrange: async (f) => {
      await firstRing(f);
      f.editSpec({ ticketLifetime: '2h' });
    },
    expect: { events: [] },
  },
];

describe('TicketKeySetReconciler', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const f = fixture(c.given?.());
    const arranged = await c.arrange?.(f);
    const acted = await act(f);
    const e = c.expect;
    if (e.result) expect(acted.result).toEqual(e.result);
    if (e.secretWrites !== undefined) expect(acted.secretWrites).toBe(e.secretWrites);
    if (e.agentCalls) expect(acted.agentCalls).toEqual(e.agentCalls);
    if (e.pushes) expect(acted.agentCalls.filter((call) => call.startsWith('put'))).toEqual(e.pushes);
    if (e.events) expect(acted.events.map((ev) => ev.reason)).toEqual(e.events);
    if (e.statusWritten !== undefined) expect(acted.statusWrites.length > 0).toBe(e.statusWritten);
    if (e.status) expect(f.current().status).toMatchObject(e.status);
    for (const [type, condition] of Object.entries(e.conditions ?? {})) expect(conditionOf(f.current(), type)).toMatchObject(condition);
    c.then?.(f, acted, arranged);
  });

  it('fails open: an unreachable agent never switches a serving pod\'s gate to False, and the key stays staged', async () => {
    const f = fixture({ pods: [fakePod('a', { ip: '10.0.0.1', gate: true }), fakePod('b', { ip: '10.0.0.2', gate: true })] });
    await f.reconcile();
    expect(f.conditions.map((c) => [c.pod, c.update.status])).toEqual([['a', true], ['b', true]]);
    f.podSource.upsert(fakePod('a', { ip: '10.0.0.1', gate: true, gateTrue: true }));
    f.podSource.upsert(fakePod('b', { ip: '10.0.0.2', gate: true, gateTrue: true }));
    f.conditions.length = 0;
    f.agents.down.add('10.0.0.1');
    f.agents.down.add('10.0.0.2');
    f.annotate({ [ROTATE_NOW]: 'x' });
    for (let i = 0; i < 5; i++) {
      await f.reconcile();
      await f.clock.advance(30_000);
    }
    expect(f.conditions.filter((c) => !c.update.status)).toEqual([]);
    const status = f.current().status!;
    expect(status).toMatchObject({ phase: 'Staging', keyGeneration: 2, pods: { total: 2, converged: 0, summary: '0/2' } });
    expect(conditionOf(f.current(), 'Ready')).toMatchObject({ status: 'False', reason: 'Staging' });
    expect(conditionOf(f.current(), 'Degraded')).toMatchObject({ status: 'True', reason: 'PromotionTimedOut' });
    // Healed: the staged key is acknowledged, promoted, and the set converges.
    f.agents.down.clear();
    await f.clock.advance(120_000);
    await f.reconcile();
    expect(f.current().status).toMatchObject({ phase: 'Stable', keyGeneration: 3, pods: { converged: 2 } });
  });

  it('takes a serving pod on a ring the fleet cannot decrypt out only within availability.maxUnavailable', async () => {
    const f = fixture({ pods: ['a', 'b', 'c'].map((n, i) => fakePod(n, { ip: `10.0.0.${i + 1}`, gate: true, gateTrue: true })) });
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
    expect(conditionOf(f.current(), 'Degraded')!.message).toContain('availability.maxUnavailable reached: b hold a ring the other pods cannot decrypt');
    // With maxUnavailable 0 nothing is ever taken out.
    const g = fixture({
      sets: [aTicketKeySet().spec({ availability: { maxUnavailable: 0 } }).build()],
      pods: ['a', 'b'].map((n, i) => fakePod(n, { ip: `10.0.0.${i + 1}`, gate: true, gateTrue: true })),
    });
    await g.reconcile();
    g.agents.held.delete('10.0.0.1');
    g.agents.putRing = () => Promise.reject(new Error('install failed'));
    g.conditions.length = 0;
    await g.reconcile();
    expect(g.conditions.filter((c) => !c.update.status)).toEqual([]);
  });

  it('refuses a pod\'s claim of a generation never issued: its error, an Event once, rotation goes on for the others', async () => {
    const f = fixture({ pods: [fakePod('a', { ip: '10.0.0.1' }), fakePod('b', { ip: '10.0.0.2' }), fakePod('x', { ip: '10.0.0.9' })] });
    await f.reconcile();
    f.agents.held.set('10.0.0.9', { generation: 2 ** 53 - 1, ringFingerprint: 'aaaaaaaaaaaaaaaa' });
    await f.reconcile();
    await f.reconcile();
    expect(f.events.filter((e) => e.reason === 'GenerationOutOfRange')).toHaveLength(1);
    let status = f.current().status!;
    expect(status.keyGeneration).toBe(1);
    expect(status.pods?.items?.[0]).toMatchObject({ name: 'x', error: expect.stringContaining('above the highest generation issued (1)') });
    expect(conditionOf(f.current(), 'Degraded')).toMatchObject({ status: 'True', reason: 'GenerationOutOfRange' });
    // A rotation still reaches a and b; x is not Ready here, so it does not hold the gate.
    f.podSource.upsert(fakePod('x', { ip: '10.0.0.9', ready: false }));
    f.annotate({ [ROTATE_NOW]: 'x' });
    await f.reconcile();
    status = f.current().status!;
    expect(status).toMatchObject({ keyGeneration: 3, phase: 'Stable' });
    expect(f.agents.held.get('10.0.0.1')?.generation).toBe(3);
  });

  it('sets keys-installed on gated pods: False while the agent is unreachable, True once it holds the ring', async () => {
    const f = fixture({ pods: [fakePod('g', { ip: '10.0.0.9', gate: true, ready: false })] });
    f.agents.down.add('10.0.0.9');
    await f.reconcile();
    expect(f.conditions.at(-1)).toEqual({ pod: 'g', update: { status: false, reason: 'AgentUnreachable', message: 'the agent did not acknowledge generation 1' } });
    f.agents.down.delete('10.0.0.9');
    await f.clock.advance(120_000); // past the push retry backoff
    await f.reconcile();
    expect(f.conditions.at(-1)).toEqual({ pod: 'g', update: { status: true, reason: 'RingInstalled', message: 'the agent holds the current ring (generation 1)' } });
  });
});
