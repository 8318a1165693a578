import { describe, expect, it } from '@jest/globals';
import { buildConditions, namePods } from '../../../src/core/conditions.ts';
import { convergence, holdsRing, maxAckedGeneration } from '../../../src/core/observations.ts';
import { initialState } from '../../../src/core/state.ts';
import { step } from '../../../src/core/step.ts';
import { seededRandom } from '../../fixtures/keys.ts';
import { pod, policy, T0 } from './support.ts';

const FP = '0123456789abcdef';

describe('convergence', () => {
  it('splits pods into converged, pending and blocking laggards', () => {
    const c = convergence(
      [
        pod('ok', { acked: { generation: 4, ringFingerprint: FP } }),
        pod('old', { acked: { generation: 3, ringFingerprint: FP } }),
        pod('other', { acked: { generation: 4, ringFingerprint: 'ffffffffffffffff' } }),
        pod('new'),
        pod('unready', { ready: false }),
        pod('leaving', { terminating: true }),
      ],
      4,
      FP,
    );
    expect(c.converged.map((p) => p.name)).toEqual(['ok']);
    expect(c.pending.map((p) => p.name)).toEqual(['old', 'other', 'new', 'unready']);
    expect(c.laggards).toEqual(['new', 'old', 'other']);
  });

  it('holdsRing needs both the generation and the fingerprint', () => {
    expect(holdsRing(pod('a', { acked: { generation: 4, ringFingerprint: FP } }), 4, FP)).toBe(true);
    expect(holdsRing(pod('a', { acked: { generation: 5, ringFingerprint: FP } }), 4, FP)).toBe(false);
    expect(holdsRing(pod('a'), 4, FP)).toBe(false);
  });

  it('finds the highest acknowledged generation', () => {
    expect(maxAckedGeneration([])).toBe(0);
    expect(maxAckedGeneration([pod('a'), pod('b', { acked: { generation: 7, ringFingerprint: FP } })])).toBe(7);
  });
});

describe('conditions', () => {
  const state = step(initialState(), { pods: [] }, policy(), T0, { random: seededRandom(1) }).state;

  it('names at most 10 pods', () => {
    expect(namePods(['a', 'b'])).toBe('a, b');
    expect(namePods(Array.from({ length: 12 }, (_, i) => `p${i}`))).toBe('p0, p1, p2, p3, p4, p5, p6, p7, p8, p9 and 2 more');
  });

  it('always reports Ready, Progressing and Degraded in that order, with UpperCamelCase reasons', () => {
    const c = buildConditions({ state, policy: policy(), convergence: convergence([pod('a')], state.generation, 'x'), rotationDeferred: false, rotateNowPending: false });
    expect(c.conditions.map((x) => x.type)).toEqual(['Ready', 'Progressing', 'Degraded']);
    for (const x of c.conditions) expect(x.reason).toMatch(/^[A-Z][A-Za-z]*$/);
  });

  it('shortens long pod errors', () => {
    const c = buildConditions({
      state,
      policy: policy(),
      convergence: convergence([pod('a', { error: 'x'.repeat(500) })], state.generation, 'x'),
      rotationDeferred: false,
      rotateNowPending: false,
    });
    const degraded = c.conditions[2]!;
    expect(degraded.reason).toBe('PushFailed');
    expect(degraded.message.length).toBeLessThan(220);
    expect(degraded.message.endsWith('…')).toBe(true);
  });

  it('reports a deferred rotation when the ring is full', () => {
    const c = buildConditions({ state, policy: policy(), convergence: convergence([], state.generation, 'x'), rotationDeferred: true, rotateNowPending: false });
    expect(c.conditions[1]).toMatchObject({ status: 'False', reason: 'RotationDeferred' });
  });
});
