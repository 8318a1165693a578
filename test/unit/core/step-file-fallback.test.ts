// fileFallback: a staged key waits for kubelet to bring the Secret's ticket.key (written before
// the stage's push) into every pod's volume, however fast the agents acknowledge, so a pod that
// loads its mounted file at any moment loads a ring that decrypts the key about to encrypt.
import { describe, expect, it } from '@jest/globals';
import type { PodObservation } from '../../../src/core/observations.ts';
import { PolicyError, resolvePolicy } from '../../../src/core/policy.ts';
import { ringFingerprintOf } from '../../../src/core/ring.ts';
import { activeKey, initialState, ringMaterial, stagedKey, type RotationState } from '../../../src/core/state.ts';
import { step } from '../../../src/core/step.ts';
import { seededRandom } from '../../fixtures/keys.ts';
import { HOUR, MIN, SEC, T0, one, pod, policy } from './support.ts';

const holding = (s: RotationState, ...pods: PodObservation[]): PodObservation[] =>
  pods.map((p) => ({ ...p, acked: { generation: s.generation, ringFingerprint: ringFingerprintOf(ringMaterial(s)) }, error: undefined }));

describe('step with fileFallback', () => {
  const pol = policy({ fileRingHoldMs: 2 * MIN });
  const random = seededRandom(3);
  const run = (s: RotationState, pods: PodObservation[], now: number) => step(s, { pods }, pol, now, { random });
  const names = ['a', 'b'].map((n) => pod(n));
  const first = run(initialState(), names, T0).state;
  const due = T0 + 12 * HOUR;
  const staged = run(first, holding(first, ...names), due).state;

  it('keeps the staged key staged until propagationDelay after staging, though every pod acknowledged it', () => {
    expect(staged.phase).toBe('Staging');
    const early = run(staged, holding(staged, ...names), due + 2 * MIN - SEC);
    expect(early.state.phase).toBe('Staging');
    expect(activeKey(early.state)!.material).toBe(activeKey(staged)!.material);
    const progressing = one(early.actions, 'conditions').conditions.find((c) => c.type === 'Progressing')!;
    expect(progressing.message).toContain(`promoted no earlier than ${new Date(due + 2 * MIN).toISOString()}`);
    // Woken exactly when the hold ends, not at the promotion timeout.
    expect(one(early.actions, 'requeue').afterMs).toBe(SEC);
  });

  it('promotes at the end of the hold, and the hold never raises PromotionTimedOut', () => {
    const r = run(staged, holding(staged, ...names), due + 2 * MIN);
    expect(r.state.phase).toBe('Promoting');
    expect(activeKey(r.state)!.material).toBe(stagedKey(staged)!.material);
    expect(r.actions.some((a) => a.kind === 'event' && a.reason === 'PromotionTimedOut')).toBe(false);
  });

  it('is off without fileFallback: the same acknowledgements promote at once', () => {
    const plain = policy();
    const s = step(first, { pods: holding(first, ...names) }, plain, due, { random: seededRandom(3) }).state;
    expect(step(s, { pods: holding(s, ...names) }, plain, due + SEC, { random: seededRandom(3) }).state.phase).toBe('Promoting');
  });
});

describe('resolvePolicy with fileFallback', () => {
  it('defaults propagationDelay to 3m, and holds nothing when fileFallback is off', () => {
    expect(resolvePolicy({ fileFallbackEnabled: true }).fileRingHoldMs).toBe(3 * MIN);
    expect(resolvePolicy({ fileFallbackEnabled: true, fileFallbackPropagationDelay: '90s' }).fileRingHoldMs).toBe(90 * SEC);
    expect(resolvePolicy({ fileFallbackEnabled: false, fileFallbackPropagationDelay: '90s' }).fileRingHoldMs).toBe(0);
  });

  it('refuses Immediate, and a delay not shorter than the interval, with readable messages', () => {
    expect(() => resolvePolicy({ fileFallbackEnabled: true, promotionPolicy: 'Immediate' })).toThrow(PolicyError);
    expect(() => resolvePolicy({ fileFallbackEnabled: true, promotionPolicy: 'Immediate' })).toThrow(/fileFallback needs promotion.policy AllPodsAcknowledged/);
    expect(() => resolvePolicy({ fileFallbackEnabled: true, interval: '1m', promotionTimeout: '30s' })).toThrow(
      /fileFallback.propagationDelay must be shorter than rotation.interval/,
    );
  });
});
