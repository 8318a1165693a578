import { describe, expect, it } from '@jest/globals';
import type { PodObservation } from '../../../src/core/observations.ts';
import { ringFingerprintOf } from '../../../src/core/ring.ts';
import { initialState, ringMaterial, type RotationState } from '../../../src/core/state.ts';
import { keyRingStatus } from '../../../src/core/status.ts';
import { step } from '../../../src/core/step.ts';
import { seededRandom } from '../../fixtures/keys.ts';
import { HOUR, policy, T0 } from './support.ts';

/** One pod that holds the state's ring (a rotation completes only when an agent acknowledges it). */
const held = (s: RotationState): { pods: PodObservation[] } => ({
  pods: [{ name: 'a', uid: 'a', ready: true, terminating: false, acked: { generation: s.generation, ringFingerprint: ringFingerprintOf(ringMaterial(s)) } }],
});

describe('keyRingStatus', () => {
  it('describes keys by fingerprint and RFC 3339 timestamps, never bytes', () => {
    const random = seededRandom(1);
    const pol = policy({ ticketLifetimeMs: 24 * HOUR });
    let s = step(initialState(), { pods: [] }, pol, T0, { random }).state;
    s = step(s, held(s), pol, T0 + 12 * HOUR, { random }).state; // staged
    s = step(s, held(s), pol, T0 + 12 * HOUR + 1000, { random }).state; // promoted (pod a acknowledged the staged ring)
    s = step(s, held(s), pol, T0 + 12 * HOUR + 2000, { random }).state; // stable (pod a holds the promoted ring)
    s = step(s, held(s), pol, T0 + 24 * HOUR + 1000, { random }).state; // staged again
    const st = keyRingStatus(s);
    expect(st).toEqual({
      keyGeneration: s.generation,
      phase: 'Staging',
      activeKey: {
        fingerprint: s.keys[0]!.material.fingerprint,
        createdAt: '2026-11-26T00:00:00.000Z',
        promotedAt: '2026-11-26T00:00:01.000Z',
      },
      stagedKey: { fingerprint: s.keys[1]!.material.fingerprint, createdAt: '2026-11-26T12:00:01.000Z' },
      retiredKeys: [
        {
          fingerprint: s.keys[2]!.material.fingerprint,
          createdAt: '2026-11-25T12:00:00.000Z',
          promotedAt: '2026-11-25T12:00:00.000Z',
          retiredAt: '2026-11-26T00:00:01.000Z',
          expiresAt: '2026-11-27T00:05:01.000Z',
        },
      ],
      lastRotationTime: '2026-11-26T00:00:01.000Z',
      nextRotationTime: '2026-11-26T12:00:01.000Z',
    });
    const text = JSON.stringify(st);
    for (const k of s.keys) expect(text).not.toContain(k.material.copyBytes().toString('base64'));
  });

  it('has no keys before the first ring', () => {
    expect(keyRingStatus(initialState())).toEqual({ keyGeneration: 0, phase: 'Stable', retiredKeys: [] });
  });
});
