import { describe, expect, it } from '@jest/globals';
import { labelSelectorToString, matchesLabelSelector } from '../../../../src/operator/runtime/label-selector.ts';

describe('matchesLabelSelector', () => {
  const labels = { app: 'ats', tier: 'edge' };

  it('matches when every matchLabels pair is present', () => {
    expect(matchesLabelSelector({ matchLabels: { app: 'ats' } }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchLabels: { app: 'ats', tier: 'core' } }, labels)).toBe(false);
  });

  it('evaluates In, NotIn, Exists and DoesNotExist', () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['edge', 'mid'] }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['mid'] }] }, labels)).toBe(false);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['mid'] }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels)).toBe(false);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels)).toBe(false);
  });

  it('ANDs matchLabels and matchExpressions', () => {
    const selector = { matchLabels: { app: 'ats' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['core'] }] };
    expect(matchesLabelSelector(selector, labels)).toBe(false);
  });

  it('matches everything with an empty selector and nothing without one', () => {
    expect(matchesLabelSelector({}, labels)).toBe(true);
    expect(matchesLabelSelector(undefined, labels)).toBe(false);
  });

  it('matches nothing with an unknown operator', () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, labels)).toBe(false);
  });
});

describe('labelSelectorToString', () => {
  it('renders the list/watch labelSelector syntax', () => {
    expect(
      labelSelectorToString({
        matchLabels: { app: 'ats' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['mid', 'edge'] },
          { key: 'zone', operator: 'NotIn', values: ['a'] },
          { key: 'canary', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('app=ats,tier in (edge,mid),zone notin (a),canary,!legacy');
  });
});
