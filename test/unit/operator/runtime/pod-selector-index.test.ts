import { describe, expect, it } from '@jest/globals';
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { matchesLabelSelector } from '../../../../src/operator/runtime/label-selector.ts';
import { PodSelectorIndex } from '../../../../src/operator/runtime/pod-selector-index.ts';
import { FakeSource } from './fake-source.ts';

const pod = (namespace: string, name: string, labels: Record<string, string>): V1Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, labels, uid: `${namespace}-${name}` } });
const names = (pods: readonly V1Pod[]) => pods.map((p) => p.metadata?.name).sort();

describe('PodSelectorIndex', () => {
  const fleet = () =>
    new FakeSource<V1Pod>({
      objects: [
        pod('a', 'edge-0', { app: 'edge', tier: 'front' }),
        pod('a', 'edge-1', { app: 'edge', tier: 'back' }),
        pod('a', 'api-0', { app: 'api', tier: 'front' }),
        pod('b', 'edge-0', { app: 'edge', tier: 'front' }),
      ],
    });

  it('selects what matchesLabelSelector selects, for every kind of selector, in one namespace only', () => {
    const source = fleet();
    const index = new PodSelectorIndex(source);
    const selectors: Array<V1LabelSelector | undefined> = [
      undefined,
      {},
      { matchLabels: { app: 'edge' } },
      { matchLabels: { app: 'edge', tier: 'front' } },
      { matchLabels: { app: 'nothing' } },
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] },
      { matchLabels: { tier: 'front' }, matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['api'] }] },
      { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] },
    ];
    for (const selector of selectors) {
      const expected = source.list('a').filter((p) => matchesLabelSelector(selector, p.metadata?.labels));
      expect(names(index.select('a', selector))).toEqual(names(expected));
    }
    expect(names(index.select('b', { matchLabels: { app: 'edge' } }))).toEqual(['edge-0']);
    expect(index.select('a', undefined)).toHaveLength(0);
  });

  it('follows pod adds, label changes and deletes', () => {
    const source = fleet();
    const index = new PodSelectorIndex(source);
    const edge = { matchLabels: { app: 'edge' } };
    expect(names(index.select('a', edge))).toEqual(['edge-0', 'edge-1']);
    source.upsert(pod('a', 'edge-2', { app: 'edge' }));
    expect(names(index.select('a', edge))).toEqual(['edge-0', 'edge-1', 'edge-2']);
    source.upsert(pod('a', 'edge-0', { app: 'canary' }));
    expect(names(index.select('a', edge))).toEqual(['edge-1', 'edge-2']);
    source.remove(pod('a', 'edge-1', { app: 'edge' }));
    expect(names(index.select('a', edge))).toEqual(['edge-2']);
    expect(names(index.select('a', { matchLabels: { app: 'canary' } }))).toEqual(['edge-0']);
  });

  it('rebuilds once per change, not once per lookup', () => {
    const source = fleet();
    let lists = 0;
    const counting = Object.assign(Object.create(source) as FakeSource<V1Pod>, {
      list: (namespace?: string) => {
        lists++;
        return source.list(namespace);
      },
    });
    const index = new PodSelectorIndex(counting);
    for (let i = 0; i < 5; i++) index.select('a', { matchLabels: { app: 'edge' } });
    expect(lists).toBe(1);
    source.upsert(pod('a', 'edge-9', { app: 'edge' }));
    for (let i = 0; i < 5; i++) index.select('a', { matchLabels: { app: 'edge' } });
    expect(lists).toBe(2);
  });
});
