// A ResilientInformer across a kube-apiserver restart: its watch drops, reconnects fail while
// the server is down (it backs off and retries on its own), and the restarted server's watch
// cache no longer knows its resourceVersion (410), so it relists. Whatever happened, its cache
// ends equal to the server's state and later changes still arrive. Runs on a test bed of its
// own, since it restarts the API server.
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import winston from 'winston';
import type { TicketKeySet } from '../../src/api/ticket-key-set.ts';
import { ticketKeySetInformer } from '../../src/operator/informers.ts';
import { eventually } from '../helpers/kube.ts';
import { usePrivateTestbed } from '../helpers/private-testbed.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { restartApiserver } from '../../dev/testbed/testbed.ts';

const NAMESPACE = 'informer-restart';
const selector = { matchLabels: { app: 'ats' } };
const silent = winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
const testbed = usePrivateTestbed('informer-restart', { namespace: NAMESPACE });

describe('ResilientInformer across an API server restart', () => {
  it('recovers by itself and converges on the server state', async () => {
    const tks = new TicketKeySets(testbed.kc, NAMESPACE);
    await tks.create(ticketKeySet('kept', { selector }));
    await tks.create(ticketKeySet('removed', { selector }));
    const informer = ticketKeySetInformer<TicketKeySet>(testbed.kc, {
      namespaces: [NAMESPACE],
      informer: { logger: silent, restartBackoff: { initialMs: 200, maxMs: 2000 } },
    });
    const events: string[] = [];
    informer.on('add', (o) => events.push(`add ${o.metadata.name}`));
    informer.on('update', (o) => events.push(`update ${o.metadata.name} ${o.spec.rotation?.interval ?? ''}`));
    informer.on('delete', (o) => events.push(`delete ${o.metadata.name}`));
    informer.start();
    try {
      await informer.waitForSync();
      expect(events.sort()).toEqual(['add kept', 'add removed']);
      events.length = 0;

      // Move the store's revision on, so the restarted server's watch cache starts past it.
      await testbed.kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'bump' } } });
      await restartApiserver(testbed.dir);
      await tks.create(ticketKeySet('added', { selector }));
      await tks.mergePatch('kept', { spec: { rotation: { interval: '3h' } } });
      await tks.delete('removed');

      await eventually(
        'cache equal to the server',
        () => {
          const names = informer.list().map((o) => o.metadata.name).sort();
          return names.join() === 'added,kept' && informer.get('kept', NAMESPACE)?.spec.rotation?.interval === '3h' ? true : undefined;
        },
        60_000,
      );
      expect(events).toEqual(expect.arrayContaining(['add added', 'update kept 3h', 'delete removed']));
      expect(informer.restarts()).toBeGreaterThanOrEqual(1);

      await tks.create(ticketKeySet('later', { selector }));
      await eventually('a change after recovery', () => (events.includes('add later') ? true : undefined));
      expect(informer.liveness()).toBe(true);
    } finally {
      await informer.stop();
    }
  });
});
