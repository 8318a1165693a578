import { describe, expect, it } from '@jest/globals';
import { initialState } from '../../../../src/core/state.ts';
import { step } from '../../../../src/core/step.ts';
import { secretMissing, secretTampered } from '../../../../src/operator/reconciler/secret-loss.ts';
import { seededRandom } from '../../../fixtures/keys.ts';
import { policy, T0 } from '../../core/support.ts';

const state = step(initialState(), { pods: [] }, policy(), T0, { random: seededRandom(1) }).state;
const fp = state.keys[0]!.material.fingerprint;

describe('secret loss', () => {
  it('a missing Secret is a loss only when the status says keys were issued', () => {
    expect(secretMissing('s', undefined)).toBeUndefined();
    expect(secretMissing('s', { keyGeneration: 0 })).toBeUndefined();
    expect(secretMissing('s', { keyGeneration: 4 })).toMatchObject({ reason: 'SecretDeleted' });
  });

  it.each([
    ['no status yet', undefined, false],
    ['status behind the Secret (a status write was lost)', { keyGeneration: 0 }, false],
    ['same generation, same ring', { keyGeneration: 1, activeKey: { fingerprint: fp, createdAt: '' } }, false],
    ['Secret older than the status (a restored backup)', { keyGeneration: 2, activeKey: { fingerprint: fp, createdAt: '' } }, true],
    ['same generation, another active key', { keyGeneration: 1, activeKey: { fingerprint: '0123456789abcdef', createdAt: '' } }, true],
    ['same generation, a staged key the Secret lacks', { keyGeneration: 1, activeKey: { fingerprint: fp, createdAt: '' }, stagedKey: { fingerprint: '0123456789abcdef', createdAt: '' } }, true],
  ])('%s', (_name, status, tampered) => {
    expect(secretTampered('s', state, status)?.reason).toBe(tampered ? 'SecretTampered' : undefined);
  });
});
