import { describe, expect, it } from '@jest/globals';
import { KeyMaterial } from '../../../src/core/key-material.ts';
import {
  activeKey,
  initialState,
  normalizeState,
  pushOrder,
  retiredKeys,
  ringSignature,
  sameState,
  stagedKey,
  stateProblems,
  type RingKey,
  type RotationState,
} from '../../../src/core/state.ts';
import { seededRandom } from '../../fixtures/keys.ts';
import { T0 } from './support.ts';

const random = seededRandom('state');
const key = (state: RingKey['state'], extra: Partial<RingKey> = {}): RingKey => ({
  material: KeyMaterial.generate(random),
  state,
  createdAt: T0,
  ...(state === 'active' ? { promotedAt: T0 } : {}),
  ...(state === 'retired' ? { promotedAt: T0, retiredAt: T0 + 1, expiresAt: T0 + 2 } : {}),
  ...extra,
});

function stateWith(keys: RingKey[], extra: Partial<RotationState> = {}): RotationState {
  return { generation: 3, phase: 'Stable', keys, lastRotationTime: T0, nextRotationTime: T0 + 1000, pushAttempts: 0, ...extra };
}

describe('state helpers', () => {
  it('the initial state has no keys and generation 0', () => {
    expect(initialState()).toEqual({ generation: 0, phase: 'Stable', keys: [], pushAttempts: 0 });
    expect(stateProblems(initialState())).toEqual([]);
  });

  it('orders keys for pushing: active, staged, retired newest first', () => {
    const old = key('retired', { retiredAt: 10 });
    const newer = key('retired', { retiredAt: 20 });
    const a = key('active');
    const s = key('staged');
    expect(pushOrder([old, s, newer, a])).toEqual([a, s, newer, old]);
  });

  it('finds active, staged and retired keys', () => {
    const a = key('active');
    const s = key('staged');
    const r = key('retired');
    const st = stateWith([a, s, r], { phase: 'Staging', stagedAt: T0 });
    expect(activeKey(st)).toBe(a);
    expect(stagedKey(st)).toBe(s);
    expect(retiredKeys(st)).toEqual([r]);
    expect(ringSignature(st.keys)).toBe(`${a.material.fingerprint}:active,${s.material.fingerprint}:staged,${r.material.fingerprint}:retired`);
  });

  it('accepts a consistent state', () => {
    expect(stateProblems(stateWith([key('active'), key('retired')]))).toEqual([]);
    expect(stateProblems(stateWith([key('active'), key('staged')], { phase: 'Staging', stagedAt: T0 }))).toEqual([]);
  });

  it.each<[string, () => RotationState, RegExp]>([
    ['no active key', () => stateWith([key('retired')]), /exactly one key must be active, found 0/],
    ['two active keys', () => stateWith([key('active'), key('active')]), /exactly one key must be active, found 2/],
    ['two staged keys', () => stateWith([key('active'), key('staged'), key('staged')], { phase: 'Staging', stagedAt: T0 }), /at most one key may be staged/],
    ['staged key outside Staging', () => stateWith([key('active'), key('staged')]), /a staged key exists exactly in phase Staging/],
    ['Staging without stagedAt', () => stateWith([key('active'), key('staged')], { phase: 'Staging' }), /stagedAt is set exactly in phase Staging/],
    ['wrong order', () => stateWith([key('retired'), key('active')]), /push order/],
    ['duplicate key', () => {
      const a = key('active');
      return stateWith([a, { ...a, state: 'retired', retiredAt: 1, expiresAt: 2 }]);
    }, /duplicate key/],
    ['shared key name', () => {
      const a = key('active');
      const b = a.material.copyBytes();
      b[40] = b[40]! ^ 1;
      return stateWith([a, key('retired', { material: KeyMaterial.fromBytes(b) })]);
    }, /share a key name/],
    ['retired key without expiry', () => stateWith([key('active'), key('retired', { expiresAt: undefined })]), /a retired key has retiredAt and expiresAt/],
    ['active key without promotedAt', () => stateWith([key('active', { promotedAt: undefined })]), /an active key has promotedAt/],
    ['staged key with a promotedAt', () => stateWith([key('active'), key('staged', { promotedAt: 1 })], { phase: 'Staging', stagedAt: T0 }), /a staged key has no/],
    ['fractional timestamp', () => stateWith([key('active', { createdAt: 1.5 })]), /createdAt must be an integer timestamp/],
    ['17 keys', () => stateWith([key('active'), ...Array.from({ length: 16 }, (_, i) => key('retired', { retiredAt: 100 - i }))]), /at most 16/],
    ['generation 0 with keys', () => stateWith([key('active')], { generation: 0 }), /generation of at least 1/],
    ['negative generation', () => stateWith([key('active')], { generation: -1 }), /non-negative integer/],
    ['missing schedule', () => stateWith([key('active')], { nextRotationTime: undefined }), /lastRotationTime and nextRotationTime are required/],
    ['unknown phase', () => stateWith([key('active')], { phase: 'Rotating' as never }), /unknown phase "Rotating"/],
    ['bad pushAttempts', () => stateWith([key('active')], { pushAttempts: -1 }), /pushAttempts/],
    ['no keys but Staging', () => ({ ...initialState(), phase: 'Staging' }), /without keys must be Stable/],
  ])('rejects %s', (_name, make, why) => {
    expect(stateProblems(make()).join('; ')).toMatch(why);
  });

  it('flags a destroyed key', () => {
    const a = key('active');
    a.material.destroy();
    expect(stateProblems(stateWith([a]))).toContain(`key #0 (${a.material.fingerprint}): destroyed`);
  });

  it('normalizes field order and drops undefined fields, so equal states compare equal', () => {
    const a = key('active');
    const s1 = stateWith([a], { stagedAt: undefined, handledRevokeToken: 'x' });
    const s2: RotationState = { handledRevokeToken: 'x', pushAttempts: 0, nextRotationTime: T0 + 1000, keys: [{ ...a }], phase: 'Stable', generation: 3, lastRotationTime: T0 };
    expect(Object.keys(normalizeState(s1))).toEqual(Object.keys(normalizeState(s2)));
    expect('stagedAt' in normalizeState(s1)).toBe(false);
    expect(sameState(s1, s2)).toBe(true);
    expect(sameState(s1, { ...s2, pushAttempts: 1 })).toBe(false);
  });
});
