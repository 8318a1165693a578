// The operator's informers against the real API server: namespace scoping, label filtering,
// typed objects from lists and watches alike, and the watchdog on a quiet watch.
import { afterEach, describe, expect, it } from '@jest/globals';
import { CoreV1Api, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import winston from 'winston';
import type { TicketKeySet } from '../../src/api/ticket-key-set.ts';
import type { ResilientInformer } from '../../src/operator/runtime/informer.ts';
import { configMapInformer, managedSecretInformer, podInformer, ticketKeySetInformer } from '../../src/operator/informers.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/operator/labels.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { FakePods } from '../../dev/fake-pods.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const watched = useNamespace('informer');
const other = useNamespace('informer-other');
const paged = useNamespace('informer-paged');
const silent = winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
const selector = { matchLabels: { app: 'ats' } };

const started: Array<ResilientInformer<KubernetesObject>> = [];
afterEach(async () => {
  for (const i of started.splice(0)) await i.stop();
});

function run<T extends KubernetesObject>(informer: ResilientInformer<T>): { informer: ResilientInformer<T>; events: string[] } {
  const events: string[] = [];
  informer.on('add', (o) => events.push(`add ${o.metadata?.namespace}/${o.metadata?.name}`));
  informer.on('update', (o) => events.push(`update ${o.metadata?.namespace}/${o.metadata?.name}`));
  informer.on('delete', (o) => events.push(`delete ${o.metadata?.namespace}/${o.metadata?.name}`));
  started.push(informer as unknown as ResilientInformer<KubernetesObject>);
  informer.start();
  return { informer, events };
}

const scoped = () => ({ namespaces: [watched.name], informer: { logger: silent } });

describe('operator informers on a real API server', () => {
  it('watches TicketKeySets of the listed namespaces only: add, update, delete', async () => {
    const kc = testKubeConfig();
    const mine = new TicketKeySets(kc, watched.name);
    const theirs = new TicketKeySets(kc, other.name);
    await mine.create(ticketKeySet('before', { selector }));
    const { informer, events } = run(ticketKeySetInformer<TicketKeySet>(kc, scoped()));
    await informer.waitForSync();
    expect(informer.list().map((t) => t.metadata.name)).toEqual(['before']);

    await theirs.create(ticketKeySet('elsewhere', { selector }));
    await mine.create(ticketKeySet('after', { selector }));
    await mine.mergePatch('after', { spec: { rotation: { interval: '2h' } } });
    await mine.delete('before');
    const n = watched.name;
    await eventually('events', () => (events.length >= 4 ? true : undefined));
    expect(events).toEqual([`add ${n}/before`, `add ${n}/after`, `update ${n}/after`, `delete ${n}/before`]);
    expect(informer.get('after', n)?.spec.rotation?.interval).toBe('2h');
    expect(informer.get('elsewhere', other.name)).toBeUndefined();
  });

  it('holds TicketKeySets without managedFields, listed and watched, while the server keeps them', async () => {
    const kc = testKubeConfig();
    const mine = new TicketKeySets(kc, watched.name);
    await mine.create(ticketKeySet('listed-mf', { selector }));
    const { informer } = run(ticketKeySetInformer<TicketKeySet>(kc, scoped()));
    await informer.waitForSync();
    await mine.create(ticketKeySet('watched-mf', { selector }));
    const watchedSet = await eventually('watched set', () => informer.get('watched-mf', watched.name));
    const listedSet = informer.get('listed-mf', watched.name);
    expect(listedSet?.spec.selector).toEqual(selector);
    expect(watchedSet.spec.selector).toEqual(selector);
    expect(listedSet?.metadata).not.toHaveProperty('managedFields');
    expect(watchedSet.metadata).not.toHaveProperty('managedFields');
    expect(watchedSet.metadata.resourceVersion).toBeTruthy();
    expect((await mine.get('watched-mf')).metadata.managedFields?.length).toBeGreaterThan(0);
  });

  it('watches every namespace when no list is given', async () => {
    const kc = testKubeConfig();
    const { informer } = run(ticketKeySetInformer<TicketKeySet>(kc, { informer: { logger: silent } }));
    await informer.waitForSync();
    await new TicketKeySets(kc, other.name).create(ticketKeySet('cluster-wide', { selector }));
    await eventually('object from the other namespace', () => informer.get('cluster-wide', other.name));
  });

  it('gives Pods the same typed shape from the list and from the watch', async () => {
    const kc = testKubeConfig();
    const pods = new FakePods(kc, watched.name);
    await pods.create({ name: 'listed', labels: { app: 'ats' } });
    const { informer } = run(podInformer(kc, { ...scoped(), labelSelector: 'app=ats' }));
    await informer.waitForSync();
    await pods.create({ name: 'watched', labels: { app: 'ats' } });
    await pods.create({ name: 'not-selected', labels: { app: 'nginx' } });
    const watchedPod = await eventually('watched pod running', () => {
      const p = informer.get('watched', watched.name);
      return p?.status?.phase === 'Running' ? p : undefined;
    });
    const listedPod = informer.get('listed', watched.name)!;
    for (const p of [listedPod, watchedPod]) {
      expect(p.metadata?.creationTimestamp).toBeInstanceOf(Date);
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBeInstanceOf(Date);
    }
    expect(informer.get('not-selected', watched.name)).toBeUndefined();
  });

  it('sees only the Secrets labelled as managed by the operator, and caches none of their data', async () => {
    const kc = testKubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const { informer, events } = run(managedSecretInformer(kc, scoped()));
    await informer.waitForSync();
    await core.createNamespacedSecret({ namespace: watched.name, body: { metadata: { name: 'foreign' }, stringData: { a: 'b' } } });
    await core.createNamespacedSecret({
      namespace: watched.name,
      body: { metadata: { name: 'ours', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } }, data: { ring: Buffer.from([1, 2, 3]).toString('base64') } },
    });
    await eventually('our secret', () => informer.get('ours', watched.name));
    expect(events).toEqual([`add ${watched.name}/ours`]);
    // Metadata only (PartialObjectMetadata): the key bytes stay in the API server.
    const cached = informer.get('ours', watched.name)! as unknown as Record<string, unknown>;
    expect(cached.kind).toBe('PartialObjectMetadata');
    expect(cached.data).toBeUndefined();
    expect(Object.keys(cached).sort()).toEqual(['apiVersion', 'kind', 'metadata']);
    expect((cached.metadata as { labels?: Record<string, string> }).labels?.[MANAGED_BY_LABEL]).toBe(MANAGED_BY_VALUE);
    // The same holds for an object first seen in the initial LIST (not the watch).
    const relisted = run(managedSecretInformer(kc, scoped())).informer;
    await relisted.waitForSync();
    const listed = relisted.get('ours', watched.name)! as unknown as Record<string, unknown>;
    expect(listed.metadata).toBeDefined();
    expect(listed.data).toBeUndefined();
  });

  it('watches ConfigMaps, metadata only', async () => {
    const kc = testKubeConfig();
    const { informer } = run(configMapInformer(kc, scoped()));
    await informer.waitForSync();
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: watched.name, body: { metadata: { name: 'ats-config' }, data: { 'records.yaml': 'x' } } });
    const cm = await eventually('config map', () => informer.get('ats-config', watched.name));
    expect(cm.metadata.name).toBe('ats-config');
    expect((cm as unknown as Record<string, unknown>).data).toBeUndefined();
  });

  it('lists in pages: every object of a collection larger than a page, then watches on from the snapshot', async () => {
    const kc = testKubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const ns = paged.name;
    const pods = new FakePods(kc, ns);
    const sets = new TicketKeySets(kc, ns);
    const managed = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
    for (let i = 0; i < 5; i++) {
      await pods.create({ name: `p-${i}`, labels: { app: 'ats' } });
      await sets.create(ticketKeySet(`s-${i}`, { selector }));
      await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: `k-${i}`, labels: managed } } });
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `c-${i}` } } });
    }
    // Pages of 2: five objects take three pages; an informer that read only the first page would hold two.
    const opts = { namespaces: [ns], listPageSize: 2, informer: { logger: silent } };
    const informers = [
      { prefix: 'p', ...run(podInformer(kc, { ...opts, labelSelector: 'app=ats' })) },
      { prefix: 's', ...run(ticketKeySetInformer<TicketKeySet>(kc, opts)) },
      { prefix: 'k', ...run(managedSecretInformer(kc, opts)) },
      { prefix: 'c', ...run(configMapInformer(kc, opts)) },
    ];
    for (const { prefix, informer } of informers) {
      await informer.waitForSync();
      const names = informer.list().map((o) => o.metadata?.name ?? '').filter((n) => n.startsWith(`${prefix}-`));
      expect(names.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`));
    }
    expect((informers[0]!.informer.get('p-3', ns) as V1Pod | undefined)?.spec?.containers).toEqual([]); // slimmed on every page
    expect((informers[2]!.informer.get('k-4', ns) as unknown as Record<string, unknown>).kind).toBe('PartialObjectMetadata');
    // The watch starts at the paged list's resourceVersion: the next object arrives as one add, nothing listed comes again.
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c-5' } } });
    const cms = informers[3]!;
    await eventually('c-5', () => cms.informer.get('c-5', ns));
    expect(cms.events.filter((e) => e.includes('/c-')).sort()).toEqual([0, 1, 2, 3, 4, 5].map((i) => `add ${ns}/c-${i}`));
  });

  it('the watchdog restarts a silent watch, which then resumes and still delivers events', async () => {
    const kc = testKubeConfig();
    const { informer, events } = run(configMapInformer(kc, { namespaces: [watched.name], informer: { logger: silent, watchdogSilenceMs: 1000, watchTimeoutSeconds: () => 300 } }));
    await informer.waitForSync();
    await eventually('a watchdog restart', () => (informer.restarts() >= 1 ? true : undefined), 15_000);
    await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: watched.name, body: { metadata: { name: 'after-watchdog' } } });
    await eventually('event after the restart', () => (events.includes(`add ${watched.name}/after-watchdog`) ? true : undefined));
    expect(informer.liveness()).toBe(true);
  });
});
