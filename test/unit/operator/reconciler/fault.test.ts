import { describe, expect, it } from '@jest/globals';
import { faultHookFromEnv } from '../../../../src/operator/reconciler/fault.ts';

describe('faultHookFromEnv', () => {
  it('is inert without TKO_FAULT', () => {
    const hook = faultHookFromEnv({});
    expect(() => hook('exit-after-persist')).not.toThrow();
  });

  it('rejects an unknown fault point at start-up', () => {
    expect(() => faultHookFromEnv({ TKO_FAULT: 'exit-sometime' })).toThrow(/exit-after-persist, exit-mid-fanout, exit-before-promote/);
  });

  it('ignores the points it was not asked for', () => {
    const hook = faultHookFromEnv({ TKO_FAULT: 'exit-before-promote' });
    expect(() => hook('exit-mid-fanout')).not.toThrow();
  });
});
