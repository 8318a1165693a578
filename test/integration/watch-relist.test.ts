// An informer whose watch was down across a kube-apiserver restart comes back to a server
// whose watch cache starts after the informer's resourceVersion: the server answers 410 Gone
// and client-node's informer relists, reporting what changed meanwhile as add, update and
// delete. Runs on a test bed of its own, since it restarts the API server.
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, ListWatch, Watch } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/names.ts';
import type { TicketKeySet } from '../../src/api/ticket-key-set.ts';
import { eventually } from '../helpers/kube.ts';
import { usePrivateTestbed } from '../helpers/private-testbed.ts';
import { TicketKeySets, ticketKeySet, tksPath } from '../../dev/ticket-key-sets.ts';
import { restartApiserver } from '../../dev/testbed/testbed.ts';

const NAMESPACE = 'watch-relist';
const selector = { matchLabels: { app: 'ats' } };
const testbed = usePrivateTestbed('relist', { namespace: NAMESPACE });

describe('TicketKeySet informer across an API server restart', () => {
  it('relists after 410 Gone and reports the changes it missed', async () => {
    const tks = new TicketKeySets(testbed.kc, NAMESPACE);
    const custom = testbed.kc.makeApiClient(CustomObjectsApi);
    let lists = 0;
    const informer = new ListWatch<TicketKeySet>(
      tksPath(NAMESPACE),
      new Watch(testbed.kc),
      async () => {
        lists++;
        return custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: PLURAL });
      },
      false,
    );
    const events: string[] = [];
    informer.on('add', (o) => events.push(`add ${o.metadata.name}`));
    informer.on('update', (o) => events.push(`update ${o.metadata.name} ${o.spec.rotation?.interval}`));
    informer.on('delete', (o) => events.push(`delete ${o.metadata.name}`));

    await tks.create(ticketKeySet('kept', { selector, rotation: { interval: '1h' } }));
    await tks.create(ticketKeySet('removed', { selector }));
    await informer.start();
    await eventually('initial list', () => (informer.list(NAMESPACE).length === 2 ? true : undefined));
    expect(lists).toBe(1);

    // The informer goes away (as when its connection drops) remembering where it was.
    await informer.stop();
    const lastSeen = informer.latestResourceVersion();
    expect(lastSeen).not.toBe('');

    // Any write moves the store's revision past what the informer saw; the restarted server's
    // watch cache then begins after it.
    await testbed.kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'bump' } } });
    await restartApiserver(testbed.dir);
    await tks.create(ticketKeySet('added', { selector }));
    await tks.mergePatch('kept', { spec: { rotation: { interval: '3h' } } });
    await tks.delete('removed');
    events.length = 0;

    // Resuming from the old resourceVersion is refused with 410 ...
    type Outcome = { type: string; code?: number };
    let first: (outcome: Outcome) => void = () => {};
    const firstOutcome = new Promise<Outcome>((resolve) => (first = resolve));
    const controller = await new Watch(testbed.kc).watch(
      tksPath(NAMESPACE),
      { resourceVersion: lastSeen },
      (type, obj: { code?: number }) => first({ type, code: obj.code }),
      (err) => first({ type: 'done', code: (err as { statusCode?: number } | null)?.statusCode }),
    );
    const outcome = await firstOutcome;
    controller.abort();
    expect(outcome).toEqual({ type: 'ERROR', code: 410 });

    // ... so the informer, started again from there, relists and reports the difference.
    await informer.start();
    await eventually('relist', () => (lists === 2 && events.length >= 3 ? true : undefined));
    expect(events.sort()).toEqual(['add added', 'delete removed', 'update kept 3h']);
    expect(informer.list(NAMESPACE).map((o) => o.metadata.name).sort()).toEqual(['added', 'kept']);

    // And it watches again from the fresh list: later changes arrive as events, no relist.
    await tks.create(ticketKeySet('after', { selector }));
    await eventually('add after recovery', () => (events.includes('add after') ? true : undefined));
    expect(lists).toBe(2);
    await informer.stop();
  });
});
