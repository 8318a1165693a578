import { describe, expect, it } from '@jest/globals';
import { initialState } from '../../../src/core/state.ts';
import { keyRingStatus } from '../../../src/core/status.ts';
import { step } from '../../../src/core/step.ts';
import { HOUR, policy, seededRandom, T0 } from './support.ts';

describe('keyRingStatus', () => {
  it('describes keys by fingerprint and RFC 3339 timestamps, never bytes', () => {
    const random = seededRandom(1);
    const pol = policy({ ticketLifetimeMs: 24 * HOUR });
    let s = step(initialState(), { pods: [] }, pol, T0, { random }).state;
    s = step(s, { pods: [] }, pol, T0 + 12 * HOUR, { random }).state; // staged
    s = step(s, { pods: [] }, pol, T0 + 12 * HOUR + 1000, { random }).state; // promoted
    s = step(s, { pods: [] }, pol, T0 + 12 * HOUR + 2000, { random }).state; // stable (no pods to wait for)
    s = step(s, { pods: [] }, pol, T0 + 24 * HOUR + 1000, { random }).state; // staged again
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
