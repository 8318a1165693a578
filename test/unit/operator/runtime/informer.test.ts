import { afterEach, describe, expect, it } from '@jest/globals';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { ResilientInformer, type ListTarget } from '../../../../src/operator/runtime/informer.ts';
import { parseNamespaces } from '../../../../src/operator/informers.ts';
import { FakeClock, settle, until } from './fake-clock.ts';
import { FakeWatch, ScriptedList, httpError } from './fake-watch.ts';
import { silentLogger } from '../logger.ts';

type Obj = KubernetesObject & { decoded?: boolean };

function o(name: string, rv: string, namespace = 'ns'): Obj {
  return { metadata: { namespace, name, resourceVersion: rv } };
}

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://kube.test:6443' }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

const informers: Array<ResilientInformer<Obj>> = [];
afterEach(async () => {
  for (const i of informers.splice(0)) await i.stop();
});

function setup(options: { namespaces?: string[]; watchdogSilenceMs?: number } = {}) {
  const clock = new FakeClock();
  const watch = new FakeWatch();
  const lists = new Map<string, ScriptedList<Obj>>();
  const namespaces = options.namespaces ?? [];
  const targets: ListTarget<Obj>[] =
    namespaces.length === 0
      ? [{ path: '/api/v1/pods', list: (lists.set('*', new ScriptedList<Obj>()).get('*') as ScriptedList<Obj>).fn }]
      : namespaces.map((ns) => {
          const l = new ScriptedList<Obj>();
          lists.set(ns, l);
          return { path: `/api/v1/namespaces/${ns}/pods`, list: l.fn, namespace: ns };
        });
  const informer = new ResilientInformer<Obj>({
    name: 'pods',
    kubeConfig: kubeConfig(),
    targets,
    labelSelector: 'app=ats',
    decode: (raw) => ({ ...(raw as Obj), decoded: true }),
    clock,
    watch,
    watchTimeoutSeconds: () => 300,
    watchdogSilenceMs: options.watchdogSilenceMs ?? 60_000,
    logger: silentLogger(),
  });
  informers.push(informer);
  const events: string[] = [];
  informer.on('add', (x) => events.push(`add ${x.metadata!.name}`));
  informer.on('update', (x) => events.push(`update ${x.metadata!.name}`));
  informer.on('delete', (x) => events.push(`delete ${x.metadata!.name}`));
  const list = lists.get(namespaces[0] ?? '*')!;
  return { clock, watch, lists, list, informer, events };
}

describe('ResilientInformer', () => {
  it('lists, then watches from the list resourceVersion with bookmarks, and reports synced', async () => {
    const { watch, list, informer, events } = setup();
    informer.start();
    expect(informer.hasSynced()).toBe(false);
    await until(() => list.pending() === 1);
    list.respond('100', [o('a', '90'), o('b', '95')]);
    await until(() => watch.opened.length === 1);
    expect(informer.hasSynced()).toBe(true);
    expect(watch.last().path).toBe('/api/v1/pods');
    expect(watch.last().params).toMatchObject({ resourceVersion: '100', allowWatchBookmarks: true, timeoutSeconds: 300, labelSelector: 'app=ats' });
    expect(events).toEqual(['add a', 'add b']);
    expect(informer.list().map((x) => x.metadata!.name)).toEqual(['a', 'b']);
  });

  it('turns watch events into add, update and delete of decoded objects', async () => {
    const { watch, list, informer, events } = setup();
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', [o('a', '90')]);
    await until(() => watch.opened.length === 1);
    watch.last().emit('ADDED', o('b', '101'));
    watch.last().emit('MODIFIED', o('a', '102'));
    watch.last().emit('BOOKMARK', { kind: 'Pod', metadata: { resourceVersion: '103' } });
    watch.last().emit('DELETED', o('b', '104'));
    expect(events).toEqual(['add a', 'add b', 'update a', 'delete b']);
    expect(informer.get('a', 'ns')?.decoded).toBe(true);
    expect(informer.get('b', 'ns')).toBeUndefined();
  });

  it('waitForSync resolves once synced and rejects when aborted first', async () => {
    const { list, informer } = setup();
    const aborted = new AbortController();
    const early = informer.waitForSync(aborted.signal);
    aborted.abort();
    await expect(early).rejects.toThrow(/aborted/);
    const synced = informer.waitForSync();
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('1', []);
    await synced;
    expect(informer.hasSynced()).toBe(true);
  });

  it('retries a failed list with exponential backoff', async () => {
    const { clock, watch, list, informer } = setup();
    informer.start();
    await until(() => list.pending() === 1);
    list.fail(httpError(500));
    await until(() => clock.pendingTimers() >= 2); // watchdog + restart after 1 s
    await clock.advance(999);
    expect(list.calls).toBe(1);
    await clock.advance(1);
    await until(() => list.pending() === 1);
    list.fail(httpError(403));
    await until(() => clock.pendingTimers() >= 2); // watchdog + restart after 2 s
    await clock.advance(1999);
    expect(list.calls).toBe(2);
    await clock.advance(1);
    await until(() => list.pending() === 1);
    list.respond('7', [o('a', '5')]);
    await until(() => watch.opened.length === 1);
    expect(informer.hasSynced()).toBe(true);
    expect(informer.restarts()).toBe(2);
  });

  it('restarts a watch that failed, resuming from the last resourceVersion without relisting', async () => {
    const { clock, watch, list, informer } = setup();
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', [o('a', '90')]);
    await until(() => watch.opened.length === 1);
    watch.last().emit('MODIFIED', o('a', '120'));
    watch.last().end(httpError(500));
    await clock.advance(1000);
    await until(() => watch.opened.length === 2);
    expect(watch.last().params.resourceVersion).toBe('120');
    expect(list.calls).toBe(1);
  });

  it('relists after 410 Gone and emits deletes for objects that vanished meanwhile', async () => {
    const { watch, list, informer, events } = setup();
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', [o('a', '90'), o('b', '91')]);
    await until(() => watch.opened.length === 1);
    watch.last().emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    watch.last().end();
    await until(() => list.pending() === 1);
    list.respond('500', [o('a', '400'), o('c', '450')]);
    await until(() => watch.opened.length === 2);
    expect(watch.last().params.resourceVersion).toBe('500');
    expect(events).toEqual(['add a', 'add b', 'delete b', 'update a', 'add c']);
    expect(informer.list().map((x) => x.metadata!.name).sort()).toEqual(['a', 'c']);
  });

  it('relists when the watch request itself answers 410', async () => {
    const { watch, list, informer } = setup();
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', []);
    await until(() => watch.opened.length === 1);
    watch.last().end(httpError(410));
    await until(() => list.pending() === 1);
    expect(list.calls).toBe(2);
  });

  it('watchdog restarts a watch silent past the threshold, resuming from its resourceVersion', async () => {
    const { clock, watch, list, informer } = setup({ watchdogSilenceMs: 60_000 });
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', []);
    await until(() => watch.opened.length === 1);
    watch.last().emit('BOOKMARK', { metadata: { resourceVersion: '150' } });
    await clock.advance(59_000);
    expect(watch.active().length).toBe(1);
    await clock.advance(16_000); // next watchdog check after 60 s of silence
    await until(() => watch.opened.length === 2);
    expect(watch.opened[0]!.ended).toBe(true);
    expect(watch.last().params.resourceVersion).toBe('150');
    expect(list.calls).toBe(1);
    expect(informer.restarts()).toBe(1);
  });

  it('watchdog keeps its hands off a watch that receives bookmarks', async () => {
    const { clock, watch, list, informer } = setup({ watchdogSilenceMs: 60_000 });
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', []);
    await until(() => watch.opened.length === 1);
    for (let i = 0; i < 10; i++) {
      await clock.advance(30_000);
      watch.last().emit('BOOKMARK', { metadata: { resourceVersion: String(200 + i) } });
    }
    expect(watch.opened.length).toBe(1);
    expect(informer.liveness()).toBe(true);
  });

  it('watchdog abandons a list that hangs and lists again', async () => {
    const { clock, list, informer } = setup({ watchdogSilenceMs: 60_000 });
    informer.start();
    await until(() => list.pending() === 1);
    await clock.advance(75_000);
    await until(() => clock.pendingTimers() >= 2); // watchdog + the restart it caused
    await clock.advance(1000);
    await until(() => list.calls === 2);
    expect(list.calls).toBe(2);
  });

  it('covers several namespaces with one cache and syncs when all have listed', async () => {
    const { watch, lists, informer } = setup({ namespaces: ['a', 'b'] });
    informer.start();
    await until(() => lists.get('a')!.pending() === 1 && lists.get('b')!.pending() === 1);
    lists.get('a')!.respond('10', [o('x', '1', 'a')]);
    await until(() => watch.opened.length === 1);
    expect(informer.hasSynced()).toBe(false);
    lists.get('b')!.respond('20', [o('y', '2', 'b')]);
    await until(() => watch.opened.length === 2);
    expect(informer.hasSynced()).toBe(true);
    expect(watch.opened.map((w) => w.path).sort()).toEqual(['/api/v1/namespaces/a/pods', '/api/v1/namespaces/b/pods']);
    expect(informer.list().length).toBe(2);
    expect(informer.list('b').map((x) => x.metadata!.name)).toEqual(['y']);
    expect(informer.get('x', 'a')).toBeDefined();
    expect(informer.get('x', 'b')).toBeUndefined();
  });

  it('stop ends the watch and schedules no restart', async () => {
    const { clock, watch, list, informer } = setup();
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', []);
    await until(() => watch.opened.length === 1);
    await informer.stop();
    await until(() => watch.active().length === 0);
    await clock.advance(120_000);
    expect(watch.opened.length).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stop during a reconnect delay opens no new watch', async () => {
    const { clock, watch, list, informer } = setup();
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', []);
    await until(() => watch.opened.length === 1);
    watch.last().end(); // server closed the watch: ListWatch reconnects at once ...
    await until(() => watch.opened.length === 2);
    watch.last().end(); // ... and after a delay the next time
    await settle();
    await informer.stop();
    await clock.advance(60_000);
    expect(watch.opened.length).toBe(2);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stop while a watch is still connecting aborts it once it connects', async () => {
    const { watch, list, informer, events } = setup();
    let connect: () => void = () => {};
    watch.connecting = new Promise((resolve) => (connect = resolve));
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('100', []);
    await until(() => watch.opened.length === 1);
    const stopping = informer.stop();
    connect();
    await stopping;
    await until(() => watch.opened[0]!.ended);
    watch.opened[0]!.emit('ADDED', o('late', '101'));
    expect(events).toEqual([]);
  });

  it('a throwing event handler does not stop other handlers or the cache', async () => {
    const { watch, list, informer, events } = setup();
    informer.on('add', () => {
      throw new Error('handler bug');
    });
    informer.start();
    await until(() => list.pending() === 1);
    list.respond('1', []);
    await until(() => watch.opened.length === 1);
    watch.last().emit('ADDED', o('a', '2'));
    watch.last().emit('ADDED', o('b', '3'));
    expect(events).toEqual(['add a', 'add b']);
    expect(informer.list().length).toBe(2);
  });
});

describe('parseNamespaces', () => {
  it('reads a comma-separated list; empty or * means all namespaces', () => {
    expect(parseNamespaces(' a, b ,a,, c')).toEqual(['a', 'b', 'c']);
    expect(parseNamespaces('')).toEqual([]);
    expect(parseNamespaces(undefined)).toEqual([]);
    expect(parseNamespaces('a,*')).toEqual([]);
  });
});
