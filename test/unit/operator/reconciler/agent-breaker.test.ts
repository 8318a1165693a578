// The per-pod circuit breaker on a fake clock: a pod that did not answer fails fast for a
// doubling window, is probed after it, closes on any answer; probes are bounded across pods.
import { describe, expect, it } from '@jest/globals';
import { AgentError } from '../../../../src/agent/client.ts';
import { describeError } from '../../../../src/observability/describe-error.ts';
import type { GetRingResponse, PutRingRequest, PutRingResponse } from '../../../../src/agent/protocol.ts';
import { AgentBackingOffError, AgentBreaker, AgentDeadlineError, withAgentDeadline } from '../../../../src/operator/reconciler/agent-breaker.ts';
import type { AgentAddress, AgentPort } from '../../../../src/operator/reconciler/agents.ts';
import { observePods } from '../../../../src/operator/reconciler/observe.ts';
import { targetPods } from '../../../../src/operator/reconciler/pods.ts';
import { FakeClock } from '../runtime/fake-clock.ts';
import { fakePod } from './fakes.ts';

const RING: GetRingResponse = {
  ats: { generation: 3, keyCount: 1, ringFingerprint: 'c'.repeat(16), rejected: 0, startTime: new Date(0).toISOString() },
  accepted: null,
  inSync: true,
};

type Outcome = 'ok' | 'timeout' | 'refused' | 'http-error';

/** Agents answering per IP as scripted; `hang` holds calls until released. */
class ScriptedAgents implements AgentPort {
  readonly outcome = new Map<string, Outcome>();
  readonly dialled: string[] = [];
  readonly hanging: Array<() => void> = [];
  hang = false;

  getRing(to: AgentAddress): Promise<GetRingResponse> {
    this.dialled.push(to.ip);
    if (this.hang) return new Promise((_, reject) => this.hanging.push(() => reject(new AgentError(0, 'timeout', `GET https://${to.ip}/v1/ring: no answer within 5000 ms`))));
    switch (this.outcome.get(to.ip) ?? 'ok') {
      case 'ok':
        return Promise.resolve(RING);
      case 'timeout':
        return Promise.reject(new AgentError(0, 'timeout', `GET https://${to.ip}/v1/ring: no answer within 5000 ms`));
      case 'refused':
        return Promise.reject(new AgentError(0, 'unreachable', `GET https://${to.ip}/v1/ring: ECONNREFUSED`));
      case 'http-error':
        return Promise.reject(new AgentError(503, 'ats_unavailable', 'ATS is restarting'));
    }
  }

  putRing(to: AgentAddress, _ring: PutRingRequest): Promise<PutRingResponse> {
    this.dialled.push(to.ip);
    return Promise.reject(new AgentError(0, 'timeout', 'no answer'));
  }

  flushSessionCache(to: AgentAddress): Promise<void> {
    this.dialled.push(to.ip);
    return Promise.resolve();
  }

  putSessionSharing(to: AgentAddress): Promise<void> {
    this.dialled.push(to.ip);
    return this.outcome.get(to.ip) === 'timeout' ? Promise.reject(new AgentError(0, 'timeout', 'no answer')) : Promise.resolve();
  }
}

const addr = (ip: string, uid = `uid-${ip}`) => ({ ip, port: 9443, pod: { uid, namespace: 'ns', name: ip, serviceAccount: 'default' } }) as unknown as AgentAddress;

function setup(options: { maxProbesInFlight?: number } = {}) {
  const clock = new FakeClock();
  const inner = new ScriptedAgents();
  const breaker = new AgentBreaker(inner, { clock, initialBackoffMs: 1000, maxBackoffMs: 60_000, ...options });
  return { clock, inner, breaker };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err,
  );
}

describe('AgentBreaker', () => {
  it('after a timeout the pod fails fast with the last error until the window ends, without being dialled', async () => {
    const { clock, inner, breaker } = setup();
    inner.outcome.set('10.0.0.1', 'timeout');
    expect(await failure(breaker.getRing(addr('10.0.0.1')))).toMatchObject({ code: 'timeout' });
    const fast = await failure(breaker.getRing(addr('10.0.0.1')));
    expect(fast).toBeInstanceOf(AgentBackingOffError);
    expect((fast as AgentBackingOffError).until).toBe(clock.now() + 1000);
    expect((fast as AgentBackingOffError).lastError).toContain('no answer within 5000 ms');
    await failure(breaker.putRing(addr('10.0.0.1'), { generation: 1, keys: [] }));
    expect(inner.dialled).toEqual(['10.0.0.1']);
    expect(breaker.backingOff()).toBe(1);
  });

  it('the window doubles with every failed probe up to the maximum, and any answer resets it', async () => {
    const { clock, inner, breaker } = setup();
    inner.outcome.set('10.0.0.1', 'refused');
    const windows: number[] = [];
    for (let i = 0; i < 9; i++) {
      await failure(breaker.getRing(addr('10.0.0.1'))); // the probe (or first call) fails
      const fast = (await failure(breaker.getRing(addr('10.0.0.1')))) as AgentBackingOffError;
      windows.push(fast.until - clock.now());
      await clock.advance(fast.until - clock.now());
    }
    expect(windows).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(inner.dialled).toHaveLength(9);

    inner.outcome.set('10.0.0.1', 'ok');
    await expect(breaker.getRing(addr('10.0.0.1'))).resolves.toEqual(RING); // the probe succeeds: closed
    inner.outcome.set('10.0.0.1', 'timeout');
    await failure(breaker.getRing(addr('10.0.0.1')));
    expect(((await failure(breaker.getRing(addr('10.0.0.1')))) as AgentBackingOffError).until - clock.now()).toBe(1000);
  });

  it('an HTTP error is an answer: the agent is reachable and the breaker stays closed', async () => {
    const { inner, breaker } = setup();
    inner.outcome.set('10.0.0.1', 'http-error');
    for (let i = 0; i < 3; i++) expect(await failure(breaker.getRing(addr('10.0.0.1')))).toMatchObject({ status: 503 });
    expect(inner.dialled).toHaveLength(3);
    expect(breaker.backingOff()).toBe(0);
  });

  it('other pods are unaffected by one pod backing off', async () => {
    const { inner, breaker } = setup();
    inner.outcome.set('10.0.0.1', 'timeout');
    await failure(breaker.getRing(addr('10.0.0.1')));
    await expect(breaker.getRing(addr('10.0.0.2'))).resolves.toEqual(RING);
  });

  it('a new pod at the same address (another uid) starts with a closed breaker', async () => {
    const { inner, breaker } = setup();
    inner.outcome.set('10.0.0.1', 'timeout');
    await failure(breaker.getRing(addr('10.0.0.1', 'old')));
    inner.outcome.set('10.0.0.1', 'ok');
    await expect(breaker.getRing(addr('10.0.0.1', 'new'))).resolves.toEqual(RING);
  });

  it('at most maxProbesInFlight probes run at once; other pods due for a probe keep failing fast', async () => {
    const { clock, inner, breaker } = setup({ maxProbesInFlight: 2 });
    const ips = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
    for (const ip of ips) inner.outcome.set(ip, 'timeout');
    for (const ip of ips) await failure(breaker.getRing(addr(ip)));
    await clock.advance(1000); // every window over
    inner.hang = true;
    inner.dialled.length = 0;
    const calls = ips.map((ip) => failure(breaker.getRing(addr(ip))));
    // A second call to a pod being probed fails fast too.
    const again = await failure(breaker.getRing(addr('10.0.0.1')));
    expect(again).toBeInstanceOf(AgentBackingOffError);
    expect(inner.dialled).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(await calls[2]).toBeInstanceOf(AgentBackingOffError);
    expect(await calls[3]).toBeInstanceOf(AgentBackingOffError);
    for (const release of inner.hanging) release();
    expect(await calls[0]).toMatchObject({ code: 'timeout' });
    // Probe slots are free again once the probes ended.
    inner.hang = false;
    await clock.advance(2000);
    inner.dialled.length = 0;
    for (const ip of ips.slice(2)) await failure(breaker.getRing(addr(ip)));
    expect(inner.dialled).toEqual(['10.0.0.3', '10.0.0.4']);
  });

  it('past the reconcile deadline no agent is dialled, and nothing is tripped by it', async () => {
    const { clock, inner, breaker } = setup();
    const deadline = clock.now() + 10_000;
    await withAgentDeadline(deadline, async () => {
      await expect(breaker.getRing(addr('10.0.0.1'))).resolves.toEqual(RING);
      await clock.advance(10_000);
      const err = await failure(breaker.getRing(addr('10.0.0.2')));
      expect(err).toBeInstanceOf(AgentDeadlineError);
      expect((err as Error).message).toContain("this reconcile's deadline for agent calls passed");
    });
    expect(inner.dialled).toEqual(['10.0.0.1']);
    // Another reconcile (its own deadline, or none) dials the pod as usual.
    await expect(breaker.getRing(addr('10.0.0.2'))).resolves.toEqual(RING);
    await expect(withAgentDeadline(clock.now() + 1000, () => breaker.getRing(addr('10.0.0.2')))).resolves.toEqual(RING);
    expect(breaker.backingOff()).toBe(0);
  });

  it('observations of a backing-off pod say so, keep its last acknowledged ring, and mark it unread', async () => {
    const { clock, inner, breaker } = setup();
    const targets = targetPods([fakePod('a', { ip: '10.0.0.1' })], { matchLabels: { app: 'ats' } });
    inner.outcome.set('10.0.0.1', 'timeout');
    const lastAck = () => ({ generation: 2, ringFingerprint: 'd'.repeat(16) });
    await observePods(targets, breaker, 9443, 4, lastAck);
    const [obs] = await observePods(targets, breaker, 9443, 4, lastAck);
    const until = new Date(clock.now() + 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(obs?.error).toBe(`agent unreachable: backing off until ${until} after: agent timeout: GET https://10.0.0.1/v1/ring: no answer within 5000 ms`);
    expect(obs).toMatchObject({ readFailed: true, ackStale: true, acked: { generation: 2, ringFingerprint: 'd'.repeat(16) } });
    expect(inner.dialled).toEqual(['10.0.0.1']);
    expect(describeError(new AgentError(0, 'unreachable', 'x'))).toBe('agent unreachable: x');
  });
});
