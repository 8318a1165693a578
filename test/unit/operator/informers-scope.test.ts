// What the operator's informers ask the API server for (nock as the server): pods by label
// selector and namespace only, Secrets and ConfigMaps as metadata only (and stripped to
// metadata even when a server sends more), and every LIST bounded by the request timeout.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import nock from 'nock';
import { AGENT_LABEL_HINT } from '../../../src/core/conditions.ts';
import { configMapInformer, DEFAULT_POD_LABEL_SELECTOR, managedSecretInformer, podInformer } from '../../../src/operator/informers.ts';
import type { ResilientInformer } from '../../../src/operator/runtime/informer.ts';
import { ACCEPT_METADATA, ACCEPT_METADATA_LIST } from '../../../src/operator/runtime/request-options.ts';
import { filledKey } from '../../fixtures/keys.ts';
import { until } from './runtime/fake-clock.ts';
import { JSON_HEADERS, SERVER, fakeKubeConfig, useNock } from './kube-fake.ts';
import { silentLogger } from './logger.ts';

useNock();

const started: Array<ResilientInformer<KubernetesObject>> = [];
afterEach(async () => {
  for (const i of started.splice(0)) await i.stop();
});

function run<T extends KubernetesObject>(informer: ResilientInformer<T>): ResilientInformer<T> {
  started.push(informer as unknown as ResilientInformer<KubernetesObject>);
  informer.start();
  return informer;
}

const informerOptions = { logger: silentLogger(), restartBackoff: { initialMs: 5, maxMs: 20 } };
const KEY_BYTES = filledKey(0x5a).toString('base64');

/** A Secret as a server that ignores the Accept header would send it: with its data. */
function fullSecret(name: string, rv: string) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace: 'edge', name, resourceVersion: rv, labels: { 'ticketkeys.dev/managed-by': 'ticket-key-operator' }, managedFields: [{ manager: 'x' }] },
    data: { ring: KEY_BYTES },
  };
}

describe('operator informer scope', () => {
  it('the default pod selector is the documented agent label, and the no-pods message names it', () => {
    expect(DEFAULT_POD_LABEL_SELECTOR).toBe('ticketkeys.dev/agent=true');
    expect(AGENT_LABEL_HINT).toBe(DEFAULT_POD_LABEL_SELECTOR);
  });

  it('pods: lists and watches only the labelled pods of each watched namespace, never cluster-wide', async () => {
    const listed: string[] = [];
    const watched: string[] = [];
    // Requests no interceptor answers (a cluster-wide list would be one).
    const unmatched: string[] = [];
    const onNoMatch = (req: { path?: string; url?: string }) => unmatched.push(String(req.path ?? req.url ?? ''));
    nock.emitter.on('no match', onNoMatch);
    const scope = nock(SERVER)
      .get('/api/v1/namespaces/edge/pods')
      .query((q) => {
        if (q.watch === 'true') return false;
        listed.push(String(q.labelSelector));
        return true;
      })
      .reply(200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '10' }, items: [] }, JSON_HEADERS)
      .get('/api/v1/namespaces/edge/pods')
      .query((q) => {
        if (q.watch !== 'true') return false;
        watched.push(String(q.labelSelector));
        return true;
      })
      .reply(200, '', JSON_HEADERS);
    const informer = run(podInformer(fakeKubeConfig(), { namespaces: ['edge'], labelSelector: DEFAULT_POD_LABEL_SELECTOR, informer: informerOptions }));
    await informer.waitForSync();
    await until(() => watched.length > 0, 'the watch');
    expect(listed).toEqual(['ticketkeys.dev/agent=true']);
    expect(watched[0]).toBe('ticketkeys.dev/agent=true');
    expect(scope.pendingMocks()).toEqual([]);
    await informer.stop();
    nock.emitter.removeListener('no match', onNoMatch);
    expect(unmatched.filter((path) => !path.includes('/api/v1/namespaces/edge/pods'))).toEqual([]);
  });

  it('Secrets: asks for metadata only, and keeps no data even when the server sends it', async () => {
    const watchEvent = `${JSON.stringify({ type: 'ADDED', object: fullSecret('watched', '12') })}\n`;
    nock(SERVER)
      .get('/api/v1/namespaces/edge/secrets')
      .query((q) => q.watch !== 'true' && q.labelSelector === 'ticketkeys.dev/managed-by=ticket-key-operator')
      .matchHeader('accept', ACCEPT_METADATA_LIST)
      .reply(200, { apiVersion: 'v1', kind: 'SecretList', metadata: { resourceVersion: '11' }, items: [fullSecret('listed', '11')] }, JSON_HEADERS)
      .get('/api/v1/namespaces/edge/secrets')
      .query((q) => q.watch === 'true')
      .matchHeader('accept', ACCEPT_METADATA)
      .reply(200, watchEvent, JSON_HEADERS);
    const informer = run(managedSecretInformer(fakeKubeConfig(), { namespaces: ['edge'], informer: informerOptions }));
    await informer.waitForSync();
    await until(() => informer.get('watched', 'edge') !== undefined, 'the watched Secret');
    for (const name of ['listed', 'watched']) {
      const cached = informer.get(name, 'edge') as unknown as Record<string, unknown>;
      expect(Object.keys(cached).sort()).toEqual(['apiVersion', 'kind', 'metadata']);
      expect(cached.kind).toBe('PartialObjectMetadata');
      expect(JSON.stringify(cached)).not.toContain(KEY_BYTES);
      expect((cached.metadata as Record<string, unknown>).managedFields).toBeUndefined();
      expect((cached.metadata as { labels?: Record<string, string> }).labels).toEqual({ 'ticketkeys.dev/managed-by': 'ticket-key-operator' });
    }
  });

  it('ConfigMaps: metadata only as well', async () => {
    nock(SERVER)
      .get('/api/v1/namespaces/edge/configmaps')
      .query((q) => q.watch !== 'true')
      .matchHeader('accept', ACCEPT_METADATA_LIST)
      .reply(200, { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadataList', metadata: { resourceVersion: '3' }, items: null }, JSON_HEADERS)
      .get('/api/v1/namespaces/edge/configmaps')
      .query((q) => q.watch === 'true')
      .matchHeader('accept', ACCEPT_METADATA)
      .reply(200, '', JSON_HEADERS);
    const informer = run(configMapInformer(fakeKubeConfig(), { namespaces: ['edge'], informer: informerOptions }));
    await informer.waitForSync(); // an empty metadata list (items: null) syncs
    expect(informer.list()).toEqual([]);
  });

  it('a LIST that gets no answer within the request timeout fails and is retried, instead of hanging the informer', async () => {
    let lists = 0;
    nock(SERVER)
      .get('/api/v1/namespaces/edge/pods')
      .query((q) => q.watch !== 'true')
      .times(2)
      .reply(async () => {
        lists++;
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        return [200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1' }, items: [] }, JSON_HEADERS];
      });
    const informer = run(podInformer(fakeKubeConfig(), { namespaces: ['edge'], requestTimeoutMs: 50, informer: informerOptions }));
    await until(() => informer.restarts() >= 1 && lists >= 2, 'a timed-out LIST retried');
    expect(informer.hasSynced()).toBe(false);
  });
});
