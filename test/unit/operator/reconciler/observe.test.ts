import { describe, expect, it } from '@jest/globals';
import { ackFromRing, observePods } from '../../../../src/operator/reconciler/observe.ts';
import { mapBounded } from '../../../../src/operator/reconciler/fan-out.ts';
import { AckHistory } from '../../../../src/operator/reconciler/ack-history.ts';
import { targetPods } from '../../../../src/operator/reconciler/pods.ts';
import { FakeAgents, fakePod } from './fakes.ts';

const ring = (generation: number, ringFingerprint = 'a'.repeat(16)) => ({
  ats: { generation, keyCount: 1, ringFingerprint, rejected: 0, startTime: '' },
  accepted: null,
  inSync: true,
});

describe('ackFromRing', () => {
  it('is what ATS holds; generation 0 (nothing since ATS started) is no acknowledgement', () => {
    expect(ackFromRing(ring(3))).toEqual({ generation: 3, ringFingerprint: 'a'.repeat(16) });
    expect(ackFromRing(ring(0))).toBeUndefined();
    expect(ackFromRing(ring(2, 'not-a-fingerprint'))).toBeUndefined();
  });
});

describe('observePods', () => {
  const targets = targetPods([fakePod('a', { ip: '10.0.0.1' }), fakePod('b', { ip: '10.0.0.2', ready: false }), fakePod('t', { ip: '10.0.0.3', terminating: true })], {
    matchLabels: { app: 'ats' },
  });

  it('maps each agent answer to an observation; terminating pods are not asked', async () => {
    const agents = new FakeAgents();
    agents.held.set('10.0.0.1', { generation: 4, ringFingerprint: 'b'.repeat(16) });
    const obs = await observePods(targets, agents, 9443, 4);
    expect(obs).toEqual([
      { name: 'a', uid: 'uid-a', ready: true, terminating: false, acked: { generation: 4, ringFingerprint: 'b'.repeat(16) } },
      { name: 'b', uid: 'uid-b', ready: false, terminating: false },
      { name: 't', uid: 'uid-t', ready: true, terminating: true },
    ]);
    expect(agents.calls.sort()).toEqual(['get 10.0.0.1', 'get 10.0.0.2']);
  });

  it('an unreachable agent keeps the ring it was last seen holding, with the error', async () => {
    const agents = new FakeAgents();
    agents.down.add('10.0.0.1');
    const history = new AckHistory();
    history.set('uid-a', { generation: 2, ringFingerprint: 'c'.repeat(16) });
    const [a] = await observePods(targets, agents, 9443, 4, (uid) => history.get(uid));
    expect(a?.acked).toEqual({ generation: 2, ringFingerprint: 'c'.repeat(16) });
    expect(a?.error).toMatch(/^agent unreachable: GET https:\/\/10\.0\.0\.1:9443\/v1\/ring/);
  });
});

describe('AckHistory.isDrift', () => {
  it('is a pod that held the current ring and now reports something else', () => {
    const h = new AckHistory();
    const current = { generation: 5, ringFingerprint: 'd'.repeat(16) };
    expect(h.isDrift('u', current, undefined)).toBe(false); // never seen holding it
    h.set('u', { generation: 4, ringFingerprint: 'e'.repeat(16) });
    expect(h.isDrift('u', current, undefined)).toBe(false); // behind, not drifted
    h.set('u', current);
    expect(h.isDrift('u', current, current)).toBe(false);
    expect(h.isDrift('u', current, undefined)).toBe(true); // ATS restarted: holds nothing
    h.retain([]);
    expect(h.get('u')).toBeUndefined();
  });
});

describe('mapBounded', () => {
  it('never has more than `limit` calls in flight and keeps input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapBounded([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return n * 2;
    });
    expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(peak).toBe(3);
  });
});
