import { describe, expect, it } from '@jest/globals';
import nock from 'nock';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../../../src/operator/runtime/api-errors.ts';
import { SecretStore } from '../../../../src/operator/kube/secret-store.ts';
import { JSON_HEADERS, SERVER, fakeKubeConfig, status, useNock, type Json } from '../kube-fake.ts';

const COLLECTION = '/api/v1/namespaces/edge/secrets';
const PATH = `${COLLECTION}/web-ticket-keys`;
const ref = { namespace: 'edge', name: 'web-ticket-keys' };
const secretBytes = Buffer.alloc(48, 0xab);

useNock();

function stored(resourceVersion: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      namespace: 'edge',
      name: 'web-ticket-keys',
      uid: 'secret-uid',
      resourceVersion,
      labels: { 'ticketkeys.dev/managed-by': 'ticket-key-operator', team: 'edge' },
      annotations: { 'ticketkeys.dev/phase': 'Stable', 'kept.example/x': 'y' },
      ownerReferences: [{ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: 'web', uid: 'tks-uid', controller: true, blockOwnerDeletion: true }],
    },
    data: { 'ticket.key': secretBytes.toString('base64') },
    ...extra,
  };
}

describe('SecretStore', () => {
  it('get decodes the data map to bytes', async () => {
    nock(SERVER).get(PATH).reply(200, stored('5'), JSON_HEADERS);
    const s = await new SecretStore({ kubeConfig: fakeKubeConfig() }).get(ref);
    expect(s?.resourceVersion).toBe('5');
    expect(s?.data['ticket.key']?.equals(secretBytes)).toBe(true);
    expect(s?.annotations['ticketkeys.dev/phase']).toBe('Stable');
  });

  it('get returns undefined when the Secret does not exist', async () => {
    nock(SERVER).get(PATH).reply(404, status(404, 'NotFound'), JSON_HEADERS);
    expect(await new SecretStore({ kubeConfig: fakeKubeConfig() }).get(ref)).toBeUndefined();
  });

  it('create labels the Secret as ours and makes the TicketKeySet its controlling owner', async () => {
    let body: Json = {};
    nock(SERVER)
      .post(COLLECTION)
      .reply(async (req: Request) => {
        body = (await req.json()) as Json;
        return [201, { ...body, metadata: { ...body.metadata, uid: 'new', resourceVersion: '1' } }, JSON_HEADERS];
      });
    const s = await new SecretStore({ kubeConfig: fakeKubeConfig() }).create(ref, { name: 'web', uid: 'tks-uid' }, { data: { 'ticket.key': secretBytes }, annotations: { 'ticketkeys.dev/phase': 'Staging' } });
    expect(body.type).toBe('Opaque');
    expect(body.metadata.labels).toEqual({ 'ticketkeys.dev/managed-by': 'ticket-key-operator', 'ticketkeys.dev/ticketkeyset': 'web' });
    expect(body.metadata.annotations).toEqual({ 'ticketkeys.dev/phase': 'Staging' });
    expect(body.metadata.ownerReferences).toEqual([{ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: 'web', uid: 'tks-uid', controller: true, blockOwnerDeletion: true }]);
    expect(Buffer.from(body.data['ticket.key'], 'base64').equals(secretBytes)).toBe(true);
    expect(s.resourceVersion).toBe('1');
  });

  it('create throws AlreadyExistsError when the name is taken', async () => {
    nock(SERVER).post(COLLECTION).reply(409, status(409, 'AlreadyExists', 'secrets "web-ticket-keys" already exists'), JSON_HEADERS);
    await expect(new SecretStore({ kubeConfig: fakeKubeConfig() }).create(ref, { name: 'web', uid: 'u' }, { data: {} })).rejects.toBeInstanceOf(AlreadyExistsError);
  });

  it('update is conditional on the resourceVersion read, keeps owners and merges annotations', async () => {
    nock(SERVER).get(PATH).reply(200, stored('5'), JSON_HEADERS);
    let body: Json = {};
    nock(SERVER)
      .put(PATH)
      .reply(async (req: Request) => {
        body = (await req.json()) as Json;
        return [200, { ...body, metadata: { ...body.metadata, resourceVersion: '6' } }, JSON_HEADERS];
      });
    const store = new SecretStore({ kubeConfig: fakeKubeConfig() });
    const current = (await store.get(ref))!;
    const next = await store.update(current, { data: { ring: Buffer.from([1, 2, 3]) }, annotations: { 'ticketkeys.dev/phase': 'Promoting', 'kept.example/x': null } });
    expect(body.metadata.resourceVersion).toBe('5');
    expect(body.metadata.ownerReferences).toEqual(current.ownerReferences);
    expect(body.metadata.annotations).toEqual({ 'ticketkeys.dev/phase': 'Promoting' });
    expect(body.metadata.labels).toEqual({ 'ticketkeys.dev/managed-by': 'ticket-key-operator', team: 'edge' });
    expect(body.data).toEqual({ ring: Buffer.from([1, 2, 3]).toString('base64') });
    expect(next.resourceVersion).toBe('6');
  });

  it('update throws ConflictError on a stale resourceVersion, without Secret bytes in the message', async () => {
    nock(SERVER).put(PATH).reply(409, status(409, 'Conflict', 'Operation cannot be fulfilled on secrets "web-ticket-keys": the object has been modified'), JSON_HEADERS);
    const store = new SecretStore({ kubeConfig: fakeKubeConfig() });
    const current = SecretStore.fromSecret(stored('5'));
    const err = await store.update(current, { data: { 'ticket.key': secretBytes } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toContain('the object has been modified');
    expect((err as Error).message).not.toContain(secretBytes.toString('base64'));
  });

  it('update throws NotFoundError when the Secret was deleted', async () => {
    nock(SERVER).put(PATH).reply(404, status(404, 'NotFound'), JSON_HEADERS);
    const store = new SecretStore({ kubeConfig: fakeKubeConfig() });
    await expect(store.update(SecretStore.fromSecret(stored('5')), { data: {} })).rejects.toBeInstanceOf(NotFoundError);
  });
});
