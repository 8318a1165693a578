import { describe, expect, it } from '@jest/globals';
import { initialState, KeyMaterial, step, type PodObservation, type RotationState } from '../../../../src/core/index.ts';
import { buildStatus, podStatusItems, sameStatus, statusMergePatch, withTransitionTimes } from '../../../../src/operator/reconciler/status.ts';
import { seededRandom } from '../../../fixtures/keys.ts';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const fp = (c: string) => c.repeat(16);
const pod = (name: string, o: Partial<PodObservation> = {}): PodObservation => ({ name, uid: `u-${name}`, ready: true, terminating: false, ...o });
const policy = { intervalMs: 3_600_000, ticketLifetimeMs: 3_600_000, promotionPolicy: 'AllPodsAcknowledged' as const, promotionTimeoutMs: 60_000, suspend: false, flushOnRevoke: true, fileRingHoldMs: 0 };

describe('withTransitionTimes', () => {
  it('keeps lastTransitionTime while the status is unchanged and moves it on a flip', () => {
    const previous = [
      { type: 'Ready', status: 'True' as const, lastTransitionTime: iso(T0), reason: 'Converged', message: 'old', observedGeneration: 1 },
      { type: 'Degraded', status: 'False' as const, lastTransitionTime: iso(T0), reason: 'AsExpected', message: 'no failures', observedGeneration: 1 },
    ];
    const next = withTransitionTimes(
      [
        { type: 'Ready', status: 'True', reason: 'Converged', message: 'new message' },
        { type: 'Degraded', status: 'True', reason: 'PushFailed', message: 'a: down' },
      ],
      previous,
      2,
      T0 + 5000,
    );
    expect(next[0]).toEqual({ type: 'Ready', status: 'True', lastTransitionTime: iso(T0), reason: 'Converged', message: 'new message', observedGeneration: 2 });
    expect(next[1]?.lastTransitionTime).toBe(iso(T0 + 5000));
  });
});

describe('podStatusItems', () => {
  it('lists pods behind the current ring first, bounded to 50, and keeps lastAckTime for an unchanged ack', () => {
    const current = { generation: 7, ringFingerprint: fp('a') };
    const pods = [
      ...Array.from({ length: 60 }, (_, i) => pod(`ok-${String(i).padStart(2, '0')}`, { acked: current })),
      pod('z-behind', { acked: { generation: 6, ringFingerprint: fp('b') } }),
      pod('a-down', { error: 'agent unreachable: connect ECONNREFUSED' }),
      pod('gone', { terminating: true }),
    ];
    const items = podStatusItems(pods, 7, fp('a'), [{ name: 'ok-00', generation: 7, ringFingerprint: fp('a'), lastAckTime: iso(T0) }], T0 + 1000);
    expect(items).toHaveLength(50);
    expect(items.slice(0, 3).map((i) => i.name)).toEqual(['a-down', 'z-behind', 'ok-00']);
    expect(items[0]).toEqual({ name: 'a-down', error: 'agent unreachable: connect ECONNREFUSED' });
    expect(items[1]).toEqual({ name: 'z-behind', generation: 6, ringFingerprint: fp('b'), lastAckTime: iso(T0 + 1000) });
    expect(items[2]?.lastAckTime).toBe(iso(T0));
    expect(items.map((i) => i.name)).not.toContain('gone');
  });
});

describe('buildStatus', () => {
  function stableState(): RotationState {
    const r = step(initialState(), { pods: [] }, policy, T0, { random: seededRandom('status') });
    return r.state;
  }

  it('derives the ring part from the state, counts pods, and never carries key bytes', () => {
    const state = stableState();
    const key = state.keys[0]!.material as KeyMaterial;
    const bytes = key.copyBytes();
    const status = buildStatus({
      state,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Converged', message: 'ok' }],
      pods: [pod('a', { acked: { generation: 1, ringFingerprint: 'x'.repeat(16) } }), pod('b')],
      previous: undefined,
      observedGeneration: 3,
      secretName: 'web-ticket-keys',
      suspend: false,
      now: T0,
    });
    expect(status).toMatchObject({
      observedGeneration: 3,
      keyGeneration: 1,
      phase: 'Stable',
      activeKey: { fingerprint: key.fingerprint, createdAt: iso(T0), promotedAt: iso(T0) },
      retiredKeys: [],
      lastRotationTime: iso(T0),
      nextRotationTime: iso(T0 + 3_600_000),
      pods: { total: 2, converged: 0, summary: '0/2' },
      secretName: 'web-ticket-keys',
    });
    const json = JSON.stringify(status);
    for (const rendering of [bytes.toString('base64'), bytes.toString('hex'), bytes.subarray(0, 16).toString('hex')]) expect(json).not.toContain(rendering);
  });

  it('leaves nextRotationTime out while suspended; the merge patch deletes absent optional fields', () => {
    const status = buildStatus({ state: stableState(), conditions: [], pods: [], previous: undefined, observedGeneration: 1, secretName: 's', suspend: true, now: T0 });
    expect(status.nextRotationTime).toBeUndefined();
    const patch = statusMergePatch(status);
    expect(patch.nextRotationTime).toBeNull();
    expect(patch.stagedKey).toBeNull();
    expect(patch.activeKey).toEqual(status.activeKey);
  });
});

describe('sameStatus', () => {
  it('ignores key order and absent-vs-undefined, but not values', () => {
    expect(sameStatus({ a: 1, b: { c: [1, 2] }, d: undefined }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameStatus({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameStatus({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});
