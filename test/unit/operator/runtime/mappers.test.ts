import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject, V1LabelSelector } from '@kubernetes/client-node';
import { mapByReference, mapBySelector, mapToControllerOwner, mapToSelf } from '../../../../src/operator/runtime/mappers.ts';
import { objectKey, parseKey } from '../../../../src/operator/runtime/object-key.ts';
import { FakeSource, obj } from './fake-source.ts';

type Tks = KubernetesObject & { spec: { selector?: V1LabelSelector; atsConfig?: { configMapRef?: { name: string } } } };

function tks(namespace: string, name: string, spec: Tks['spec']): Tks {
  return { apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', metadata: { namespace, name }, spec };
}

describe('object keys', () => {
  it('formats and parses namespace/name keys', () => {
    expect(objectKey(obj('ns', 'a'))).toBe('ns/a');
    expect(objectKey({ metadata: { name: 'cluster-wide' } })).toBe('cluster-wide');
    expect(parseKey('ns/a')).toEqual({ namespace: 'ns', name: 'a' });
    expect(parseKey('a')).toEqual({ namespace: '', name: 'a' });
  });

  it('rejects malformed keys', () => {
    for (const bad of ['', '/', 'ns/', '/a', 'a/b/c']) expect(() => parseKey(bad)).toThrow(/malformed/);
  });
});

describe('mapping functions', () => {
  it('maps an object to itself', () => {
    expect(mapToSelf(obj('ns', 'a'))).toEqual(['ns/a']);
  });

  it('maps a Secret to its controlling TicketKeySet, ignoring the version and other owners', () => {
    const map = mapToControllerOwner({ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet' });
    const secret = obj('ns', 'web-ticket-keys', {}, {});
    secret.metadata!.ownerReferences = [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: '1', controller: false },
      { apiVersion: 'ticketkeys.dev/v1beta1', kind: 'TicketKeySet', name: 'web', uid: '2', controller: true },
    ];
    expect(map(secret)).toEqual(['ns/web']);
    secret.metadata!.ownerReferences = [{ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: 'web', uid: '2' }];
    expect(map(secret)).toEqual([]);
  });

  it('maps a Pod to the TicketKeySets of its namespace whose selector matches it', () => {
    const sets = new FakeSource<Tks>({
      objects: [
        tks('ns', 'web', { selector: { matchLabels: { app: 'ats' } } }),
        tks('ns', 'all', { selector: {} }),
        tks('ns', 'other', { selector: { matchLabels: { app: 'nginx' } } }),
        tks('elsewhere', 'web', { selector: { matchLabels: { app: 'ats' } } }),
      ],
    });
    const map = mapBySelector(sets, (t) => t.spec.selector);
    expect(map(obj('ns', 'ats-0', { app: 'ats' })).sort()).toEqual(['ns/all', 'ns/web']);
  });

  it('maps a ConfigMap to the TicketKeySets that reference it', () => {
    const sets = new FakeSource<Tks>({
      objects: [tks('ns', 'web', { atsConfig: { configMapRef: { name: 'ats-config' } } }), tks('ns', 'plain', {})],
    });
    const map = mapByReference(sets, (t) => (t.spec.atsConfig?.configMapRef ? [t.spec.atsConfig.configMapRef.name] : []));
    expect(map(obj('ns', 'ats-config'))).toEqual(['ns/web']);
    expect(map(obj('ns', 'unrelated'))).toEqual([]);
  });
});
