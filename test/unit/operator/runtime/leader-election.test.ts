import { describe, expect, it } from '@jest/globals';
import { LeaderElector, candidateIdentity, type LeaderElectorOptions, type StoppedReason } from '../../../../src/operator/runtime/leader-election.ts';
import { FakeClock, until } from './fake-clock.ts';
import { fakeKubeConfig, useNock } from '../kube-fake.ts';
import { LeaseServer } from './lease-server.ts';
import { silentLogger } from '../logger.ts';

const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

useNock();

function setup(overrides: Partial<LeaderElectorOptions> = {}) {
  const clock = new FakeClock();
  const server = new LeaseServer();
  const events: string[] = [];
  const stopped: StoppedReason[] = [];
  const elector = new LeaderElector({
    kubeConfig: fakeKubeConfig(),
    namespace: 'ops',
    name: 'tko-leader',
    identity: 'me',
    clock,
    random: () => 0,
    logger: silentLogger(),
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: (reason) => {
      events.push(`stopped:${reason}`);
      stopped.push(reason);
    },
    onNewLeader: (id) => events.push(`leader:${id}`),
    ...overrides,
  });
  return { clock, server, elector, events, stopped };
}

/** Advances the fake clock one step and waits until the exchange it triggers is done. */
async function step(clock: FakeClock, server: LeaseServer, ms: number, expectRequests: number): Promise<void> {
  const before = server.log.length;
  await clock.advance(ms);
  await until(() => server.log.length >= before + expectRequests, `${expectRequests} lease request(s)`);
}

describe('LeaderElector', () => {
  it('creates a missing Lease and starts leading', async () => {
    const { clock, server, elector, events } = setup();
    elector.start();
    await step(clock, server, 0, 2);
    await until(() => elector.isLeader());
    expect(server.log.map((e) => `${e.method} ${e.status}`)).toEqual(['GET 404', 'POST 201']);
    const spec = server.lease!.spec;
    expect(spec.holderIdentity).toBe('me');
    expect(spec.leaseDurationSeconds).toBe(15);
    expect(spec.leaseTransitions).toBe(0);
    expect(spec.acquireTime).toMatch(MICRO);
    expect(spec.renewTime).toBe(spec.acquireTime);
    expect(new Date(spec.acquireTime!).getTime()).toBe(clock.now());
    expect(events).toEqual(['leader:me', 'started']);
  });

  it('does not take a Lease another holder keeps renewing', async () => {
    const { clock, server, elector, events } = setup();
    server.set({ holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: '2026-11-25T11:59:59.000000Z', leaseTransitions: 3 });
    elector.start();
    await step(clock, server, 0, 1);
    for (let i = 0; i < 10; i++) {
      server.set({ ...server.lease!.spec, renewTime: new Date(clock.now()).toISOString() }); // the holder renews
      await step(clock, server, 2000, 1);
    }
    expect(server.writes()).toEqual([]);
    expect(elector.isLeader()).toBe(false);
    expect(elector.observedLeader()).toBe('other');
    expect(events).toEqual(['leader:other']);
  });

  it('takes over a Lease whose record has not changed for leaseDuration, bumping leaseTransitions', async () => {
    const { clock, server, elector, events } = setup();
    server.set({ holderIdentity: 'other', leaseDurationSeconds: 15, acquireTime: '2026-11-25T10:00:00.000000Z', renewTime: '2026-11-25T11:59:59.000000Z', leaseTransitions: 3 });
    elector.start();
    await step(clock, server, 0, 1);
    const firstSeen = clock.now();
    // Measured on our clock from when we first saw the record: not before 15 s.
    while (clock.now() - firstSeen < 14_000) await step(clock, server, 2000, 1);
    expect(server.writes()).toEqual([]);
    await step(clock, server, 2000, 2);
    await until(() => elector.isLeader());
    const put = server.writes()[0]!;
    expect(put.method).toBe('PUT');
    expect(put.body!.metadata.resourceVersion).toBe('101');
    expect(server.lease!.spec).toMatchObject({ holderIdentity: 'me', leaseTransitions: 4, leaseDurationSeconds: 15 });
    expect(new Date(server.lease!.spec.acquireTime!).getTime()).toBe(clock.now());
    expect(events).toEqual(['leader:other', 'leader:me', 'started']);
  });

  it('takes a released Lease (no holder) at once', async () => {
    const { clock, server, elector } = setup();
    server.set({ leaseDurationSeconds: 1, leaseTransitions: 5, renewTime: '2026-11-25T11:59:59.000000Z' });
    elector.start();
    await step(clock, server, 0, 2);
    await until(() => elector.isLeader());
    expect(server.lease!.spec).toMatchObject({ holderIdentity: 'me', leaseTransitions: 6 });
  });

  it('renews every retryPeriod without reading first, keeping acquireTime and leaseTransitions', async () => {
    const { clock, server, elector } = setup();
    elector.start();
    await step(clock, server, 0, 2);
    await until(() => elector.isLeader());
    const acquired = server.lease!.spec;
    await step(clock, server, 2000, 1);
    await step(clock, server, 2000, 1);
    expect(server.log.slice(2).map((e) => `${e.method} ${e.status}`)).toEqual(['PUT 200', 'PUT 200']);
    expect(server.lease!.spec.acquireTime).toBe(acquired.acquireTime);
    expect(server.lease!.spec.leaseTransitions).toBe(0);
    expect(new Date(server.lease!.spec.renewTime!).getTime()).toBe(clock.now());
    expect(elector.isLeader()).toBe(true);
  });

  it('re-reads after a 409 and stays leader when the Lease is still ours', async () => {
    const { clock, server, elector } = setup();
    elector.start();
    await step(clock, server, 0, 2);
    await until(() => elector.isLeader());
    server.set(server.lease!.spec, { touched: 'by-someone' }); // e.g. a label change bumps the resourceVersion
    await step(clock, server, 2000, 3);
    expect(server.log.slice(2).map((e) => `${e.method} ${e.status}`)).toEqual(['PUT 409', 'GET 200', 'PUT 200']);
    expect(elector.isLeader()).toBe(true);
  });

  it('loses leadership at once when a 409 reveals another holder', async () => {
    const { clock, server, elector, stopped } = setup();
    elector.start();
    await step(clock, server, 0, 2);
    await until(() => elector.isLeader());
    server.set({ holderIdentity: 'usurper', leaseDurationSeconds: 15, renewTime: new Date(clock.now()).toISOString(), leaseTransitions: 1 });
    await step(clock, server, 2000, 2);
    await until(() => stopped.length === 1);
    expect(stopped).toEqual(['lost']);
    expect(elector.isLeader()).toBe(false);
    const requests = server.log.length;
    await clock.advance(30_000);
    expect(server.log.length).toBe(requests);
  });

  it('loses leadership when no renew succeeds within renewDeadline', async () => {
    const { clock, server, elector, stopped } = setup();
    elector.start();
    await step(clock, server, 0, 2);
    await until(() => elector.isLeader());
    for (let i = 0; i < 10; i++) {
      server.failNext('PUT', 500);
      server.failNext('GET', 500);
    }
    await step(clock, server, 2000, 2); // t+2 s: renew fails
    await step(clock, server, 2000, 2); // t+4 s
    await step(clock, server, 2000, 2); // t+6 s
    await step(clock, server, 2000, 2); // t+8 s
    await clock.advance(1999);
    expect(stopped).toEqual([]);
    expect(elector.isLeader()).toBe(true);
    await clock.advance(1); // t+10 s: renewDeadline since the last successful renew
    expect(stopped).toEqual(['lost']);
    expect(elector.isLeader()).toBe(false);
  });

  it('releases the Lease on stop: holder cleared, lease shortened, transitions kept', async () => {
    const { clock, server, elector, events } = setup();
    elector.start();
    await step(clock, server, 0, 2);
    await until(() => elector.isLeader());
    await elector.stop();
    const last = server.writes().at(-1)!;
    expect(last.method).toBe('PUT');
    expect(server.lease!.spec.holderIdentity).toBeUndefined();
    expect(server.lease!.spec.leaseDurationSeconds).toBe(1);
    expect(server.lease!.spec.leaseTransitions).toBe(0);
    expect(events.at(-1)).toBe('stopped:released');
    expect(elector.isLeader()).toBe(false);
    const requests = server.log.length;
    await clock.advance(30_000);
    expect(server.log.length).toBe(requests);
  });

  it('a candidate that stops writes nothing and calls no callback', async () => {
    const { clock, server, elector, events } = setup();
    server.set({ holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: '2026-11-25T11:59:59.000000Z', leaseTransitions: 0 });
    elector.start();
    await step(clock, server, 0, 1);
    await elector.stop();
    await clock.advance(60_000);
    expect(server.writes()).toEqual([]);
    expect(events).toEqual(['leader:other']);
  });

  it('of two candidates racing for a fresh Lease, exactly one wins', async () => {
    const clock = new FakeClock();
    const server = new LeaseServer();
    const leaders: string[] = [];
    const make = (identity: string) =>
      new LeaderElector({
        kubeConfig: fakeKubeConfig(),
        namespace: 'ops',
        name: 'tko-leader',
        identity,
        clock,
        random: () => 0,
        logger: silentLogger(),
        onStartedLeading: () => leaders.push(identity),
        onStoppedLeading: () => {},
      });
    const a = make('a');
    const b = make('b');
    a.start();
    b.start();
    await step(clock, server, 0, 4);
    expect(server.log.map((e) => `${e.method} ${e.status}`)).toEqual(['GET 404', 'GET 404', 'POST 201', 'POST 409']);
    for (let i = 0; i < 5; i++) await step(clock, server, 2000, 2);
    expect(leaders.length).toBe(1);
    expect([a.isLeader(), b.isLeader()].filter(Boolean).length).toBe(1);
    expect(server.lease!.spec.holderIdentity).toBe(leaders[0]);
  });

  it('builds distinct candidate identities from the host name', () => {
    const a = candidateIdentity();
    expect(a).toMatch(/^.+_[0-9a-f-]{36}$/);
    expect(candidateIdentity()).not.toBe(a);
  });

  it('rejects timing parameters that break the client-go invariants', () => {
    const base = { kubeConfig: fakeKubeConfig(), namespace: 'ops', name: 'l', identity: 'me', onStartedLeading: () => {}, onStoppedLeading: () => {} };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(/leaseDuration/);
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(/renewDeadline/);
    expect(() => new LeaderElector({ ...base, identity: '' })).toThrow(/identity/);
  });
});
