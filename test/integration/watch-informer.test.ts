// A client-node 2.x informer on TicketKeySets against the real API server: it sees create,
// update and delete, and the server answers a watch from a resourceVersion older than its
// watch cache with 410 Gone, the signal that makes an informer relist.
import { describe, expect, it } from '@jest/globals';
import { CustomObjectsApi, Watch, makeInformer } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/names.ts';
import type { TicketKeySet } from '../../src/api/ticket-key-set.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { TicketKeySets, ticketKeySet, tksPath } from '../../dev/ticket-key-sets.ts';

const ns = useNamespace('watch-informer');
const kc = testKubeConfig();
const tks = new TicketKeySets(kc, ns.name);
const selector = { matchLabels: { app: 'ats' } };

describe('TicketKeySet informer', () => {
  it('sees create, update and delete', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const informer = makeInformer<TicketKeySet>(kc, tksPath(ns.name), () =>
      custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL }),
    );
    const events: string[] = [];
    informer.on('add', (o) => events.push(`add ${o.metadata.name} ${o.spec.rotation?.interval}`));
    informer.on('update', (o) => events.push(`update ${o.metadata.name} ${o.spec.rotation?.interval}`));
    informer.on('delete', (o) => events.push(`delete ${o.metadata.name}`));
    const errors: unknown[] = [];
    informer.on('error', (err) => errors.push(err));
    await informer.start();
    try {
      await tks.create(ticketKeySet('watched', { selector, rotation: { interval: '1h' } }));
      await eventually('add event', () => (events.includes('add watched 1h') ? true : undefined));

      await tks.mergePatch('watched', { spec: { rotation: { interval: '2h' } } });
      await eventually('update event', () => (events.includes('update watched 2h') ? true : undefined));
      expect(informer.get('watched', ns.name)?.spec.rotation?.interval).toBe('2h');

      await tks.delete('watched');
      await eventually('delete event', () => (events.includes('delete watched') ? true : undefined));
      expect(informer.get('watched', ns.name)).toBeUndefined();

      expect(events).toEqual(['add watched 1h', 'update watched 2h', 'delete watched']);
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });

  it('gets 410 Gone for a watch from a resourceVersion older than the watch cache', async () => {
    await tks.create(ticketKeySet('old-rv', { selector }));
    // resourceVersion 1 predates every TicketKeySet event the server still holds.
    type Outcome = { type?: string; code?: number; reason?: string; message?: string; error?: unknown };
    let first: (outcome: Outcome) => void = () => {};
    const firstOutcome = new Promise<Outcome>((resolve) => (first = resolve));
    const controller = await new Watch(kc).watch(
      tksPath(ns.name),
      { resourceVersion: '1' },
      (type, obj: { code?: number; reason?: string; message?: string }) =>
        first(type === 'ERROR' ? { type, code: obj.code, reason: obj.reason, message: obj.message } : { type }),
      (err) => first({ error: err }),
    );
    const outcome = await firstOutcome;
    controller.abort();
    expect(outcome).toMatchObject({ type: 'ERROR', code: 410, reason: 'Expired' });
    expect(outcome.message).toContain('too old resource version');
  });
});
