// Leader election against the real API server: Leases, resourceVersion conflicts and all.
// Timings are shortened (the client-go ratios kept) so hand-overs happen in seconds.
import { afterEach, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import winston from 'winston';
import { LeaderElector, type LeaderElectorOptions, type StoppedReason } from '../../src/operator/runtime/leader-election.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';

const ns = useNamespace('leader-election');
const silent = winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });

interface Candidate {
  elector: LeaderElector;
  stopped: StoppedReason[];
  started: number;
}

const running: LeaderElector[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
});

function candidate(identity: string, lease: string, timing: Partial<LeaderElectorOptions>): Candidate {
  const c: Candidate = { stopped: [], started: 0, elector: undefined as unknown as LeaderElector };
  c.elector = new LeaderElector({
    kubeConfig: testKubeConfig(),
    namespace: ns.name,
    name: lease,
    identity,
    logger: silent,
    onStartedLeading: () => c.started++,
    onStoppedLeading: (reason) => c.stopped.push(reason),
    ...timing,
  });
  running.push(c.elector);
  return c;
}

function readLease(name: string): Promise<V1Lease> {
  return testKubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: ns.name, name });
}

const ms = (t: unknown): number => new Date(String(t)).getTime();
const FAST = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

describe('LeaderElector on a real API server', () => {
  it('elects exactly one of two candidates and records it in the Lease', async () => {
    const a = candidate('a', 'one-leader', FAST);
    const b = candidate('b', 'one-leader', FAST);
    a.elector.start();
    b.elector.start();
    await eventually('a leader', () => (a.elector.isLeader() || b.elector.isLeader() ? true : undefined));
    // Over several lease periods, never both, and the same one throughout.
    const leaders = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const now = [a, b].filter((c) => c.elector.isLeader()).map((c) => c.elector.identity);
      expect(now.length).toBe(1);
      leaders.add(now[0]!);
      await sleep(200);
    }
    expect(leaders.size).toBe(1);
    const lease = await readLease('one-leader');
    expect(lease.spec?.holderIdentity).toBe([...leaders][0]);
    expect(lease.spec?.leaseDurationSeconds).toBe(3);
    expect(String(lease.spec?.renewTime)).toMatch(/\.\d{6}Z$/);
    expect(a.started + b.started).toBe(1);
    expect([...a.stopped, ...b.stopped]).toEqual([]);
  });

  it('hands over to the standby well within the lease duration when the leader stops', async () => {
    // A long lease: without the release on stop the standby would wait 30 s.
    const timing = { leaseDurationMs: 30_000, renewDeadlineMs: 10_000, retryPeriodMs: 500 };
    const a = candidate('a', 'handover', timing);
    a.elector.start();
    await eventually('a leads', () => (a.elector.isLeader() ? true : undefined));
    const b = candidate('b', 'handover', timing);
    b.elector.start();
    await eventually('b observes a', () => (b.elector.observedLeader() === 'a' ? true : undefined));
    expect(b.elector.isLeader()).toBe(false);

    await a.elector.stop();
    expect(a.stopped).toEqual(['released']);
    const released = await readLease('handover');
    await eventually('b leads', () => (b.elector.isLeader() ? true : undefined), 20_000);
    const taken = await readLease('handover');
    expect(taken.spec?.holderIdentity).toBe('b');
    expect(taken.spec?.leaseTransitions).toBe(1);
    // b acquired it after the release and before the lease a held could have expired.
    expect(ms(taken.spec?.acquireTime)).toBeGreaterThanOrEqual(ms(released.spec?.renewTime));
    expect(ms(taken.spec?.acquireTime) - ms(released.spec?.renewTime)).toBeLessThan(timing.leaseDurationMs);
  });

  it('takes over from a crashed leader only once its lease has expired', async () => {
    const a = candidate('a', 'crash', { ...FAST, releaseOnStop: false });
    a.elector.start();
    await eventually('a leads', () => (a.elector.isLeader() ? true : undefined));
    const b = candidate('b', 'crash', FAST);
    b.elector.start();
    await eventually('b observes a', () => (b.elector.observedLeader() === 'a' ? true : undefined));

    await a.elector.stop(); // a crash: no release, the Lease still names a
    const last = await readLease('crash');
    expect(last.spec?.holderIdentity).toBe('a');
    await eventually('b leads', () => (b.elector.isLeader() ? true : undefined), 20_000);
    const taken = await readLease('crash');
    expect(taken.spec?.holderIdentity).toBe('b');
    expect(taken.spec?.leaseTransitions).toBe(1);
    // client-go semantics: b waited a whole lease duration after the last renew it saw.
    expect(ms(taken.spec?.acquireTime) - ms(last.spec?.renewTime)).toBeGreaterThanOrEqual(FAST.leaseDurationMs);
  });

  it('a leader whose Lease is taken over loses leadership and stops', async () => {
    const a = candidate('a', 'usurped', FAST);
    a.elector.start();
    await eventually('a leads', () => (a.elector.isLeader() ? true : undefined));
    const coordination = testKubeConfig().makeApiClient(CoordinationV1Api);
    // Another writer takes the Lease (retrying when a's renew slips in between read and write).
    await eventually('usurper writes the Lease', async () => {
      const lease = await coordination.readNamespacedLease({ namespace: ns.name, name: 'usurped' });
      await coordination.replaceNamespacedLease({
        namespace: ns.name,
        name: 'usurped',
        body: { ...lease, spec: { ...lease.spec, holderIdentity: 'usurper', leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } },
      });
      return true;
    });
    await eventually('a gives up', () => (a.stopped.length > 0 ? true : undefined), 20_000);
    expect(a.stopped).toEqual(['lost']);
    expect(a.elector.isLeader()).toBe(false);
    expect((await readLease('usurped')).spec?.holderIdentity).toBe('usurper');
  });
});
