import { describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import { findSelectorConflicts } from '../../../../src/operator/reconciler/selector-conflicts.ts';
import { fakePod } from './fakes.ts';

const set = (name: string, created: number, matchLabels: Record<string, string>, namespace = 'ns'): TicketKeySet => ({
  apiVersion: 'ticketkeys.dev/v1alpha1',
  kind: 'TicketKeySet',
  metadata: { name, namespace, uid: `uid-${name}`, creationTimestamp: new Date(created) as never },
  spec: { selector: { matchLabels } },
});

describe('findSelectorConflicts', () => {
  const pods = [fakePod('a', { labels: { app: 'ats', tier: 'edge' } }), fakePod('b', { labels: { app: 'ats' } })];
  const old = set('old', 1000, { tier: 'edge' });
  const young = set('young', 2000, { app: 'ats' });
  const sel = (t: TicketKeySet) => t.spec.selector;

  it('the younger set cedes the contested pods to the older one; the older set keeps them', () => {
    expect([...findSelectorConflicts(young, [old, young], pods, sel).ceded]).toEqual([['a', 'old']]);
    expect(findSelectorConflicts(old, [old, young], pods, sel).ceded.size).toBe(0);
  });

  it('breaks a creation-time tie by name, ignores other namespaces and sets being deleted', () => {
    const twin = set('aaa', 2000, { app: 'ats' });
    expect([...findSelectorConflicts(young, [young, twin], pods, sel).ceded.keys()]).toEqual(['a', 'b']);
    expect(findSelectorConflicts(twin, [young, twin], pods, sel).ceded.size).toBe(0);
    expect(findSelectorConflicts(young, [set('other', 0, { app: 'ats' }, 'elsewhere'), young], pods, sel).ceded.size).toBe(0);
    const deleting = { ...old, metadata: { ...old.metadata, deletionTimestamp: new Date() as never } };
    expect(findSelectorConflicts(young, [deleting, young], pods, sel).ceded.size).toBe(0);
  });
});
