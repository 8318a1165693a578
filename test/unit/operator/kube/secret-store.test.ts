import { describe, expect, it } from '@jest/globals';
import nock from 'nock';
import { ringFingerprint } from '../../../../src/core/fingerprint.ts';
import { encodeRing } from '../../../../src/core/ring.ts';
import { decodeSecret, encodeSecret, SecretFormatError } from '../../../../src/core/secret-format.ts';
import { initialState, ringMaterial, type RotationState } from '../../../../src/core/state.ts';
import { step } from '../../../../src/core/step.ts';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../../../src/operator/runtime/api-errors.ts';
import { SecretStore } from '../../../../src/operator/kube/secret-store.ts';
import { OwnWrites } from '../../../../src/operator/runtime/own-writes.ts';
import { keyTraces, seededRandom } from '../../../fixtures/keys.ts';
import { pod, policy, T0 } from '../../core/support.ts';
import { JSON_HEADERS, SERVER, fakeKubeConfig, status, useNock, type Json } from '../kube-fake.ts';

const COLLECTION = '/api/v1/namespaces/edge/secrets';
const PATH = `${COLLECTION}/web-ticket-keys`;
const ref = { namespace: 'edge', name: 'web-ticket-keys' };

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
    ...extra,
  };
}

/** A Stable state with one active key, whose handled rotate-now and revoke tokens are set. */
function stableState(seed = 1): RotationState {
  return step(initialState(), { pods: [pod('a')] }, policy({ rotateNowToken: 'r1', revokeToken: 'v1' }), T0, { random: seededRandom(seed) }).state;
}

/** The Secret as the API server returns it, holding `state` as the codec writes it. */
function holding(state: RotationState, resourceVersion: string, annotations: Record<string, string> = {}) {
  const p = encodeSecret(state);
  const base = stored(resourceVersion);
  return { ...base, metadata: { ...base.metadata, annotations: { ...annotations, ...p.annotations } }, data: p.data };
}

/** Every way the bytes of the keys of `state` (or its ring) could appear in text. */
function keyTexts(state: RotationState): string[] {
  const keys = state.keys.map((k) => k.material.copyBytes());
  const ring = encodeRing(ringMaterial(state));
  const texts = [...keyTraces(keys), ...keys.map((b) => b.subarray(0, 12).toString('base64')), ring.toString('base64'), ring.toString('hex')];
  for (const b of [...keys, ring]) b.fill(0);
  return texts;
}

describe('SecretStore.load', () => {
  it('decodes the state through the codec and returns the Secret to write over, without its data', async () => {
    const state = stableState();
    nock(SERVER).get(PATH).reply(200, holding(state, '5', { 'kept.example/x': 'y' }), JSON_HEADERS);
    const loaded = await new SecretStore({ kubeConfig: fakeKubeConfig() }).load(ref);
    if (!loaded || !('state' in loaded)) throw new Error(`expected a state, got ${JSON.stringify(loaded)}`);
    expect(loaded.state).toEqual(state);
    loaded.state.keys.forEach((k, i) => expect(k.material.equals(state.keys[i]!.material)).toBe(true));
    expect(loaded.stored).toEqual({
      namespace: 'edge',
      name: 'web-ticket-keys',
      uid: 'secret-uid',
      resourceVersion: '5',
      labels: { 'ticketkeys.dev/managed-by': 'ticket-key-operator', team: 'edge' },
      annotations: { 'kept.example/x': 'y', ...encodeSecret(state).annotations },
      ownerReferences: [{ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: 'web', uid: 'tks-uid', controller: true, blockOwnerDeletion: true }],
    });
  });

  it('returns undefined when the Secret does not exist', async () => {
    nock(SERVER).get(PATH).reply(404, status(404, 'NotFound'), JSON_HEADERS);
    expect(await new SecretStore({ kubeConfig: fakeKubeConfig() }).load(ref)).toBeUndefined();
  });

  it('loads a Secret the released version wrote (handled tokens also as annotations), reading the tokens from ring.json', async () => {
    const state = stableState();
    // The released version added the tokens as annotations; these say something else, and are not read.
    const old = holding(state, '5', { 'ticketkeys.dev/rotate-now-handled': 'stale', 'ticketkeys.dev/revoke-handled': 'stale' });
    nock(SERVER).get(PATH).reply(200, old, JSON_HEADERS);
    const loaded = await new SecretStore({ kubeConfig: fakeKubeConfig() }).load(ref);
    if (!loaded || !('state' in loaded)) throw new Error('expected a state');
    expect(loaded.state.handledRotateNowToken).toBe('r1');
    expect(loaded.state.handledRevokeToken).toBe('v1');
    expect(loaded.state).toEqual(state);
  });

  it.each([
    ['corrupted ring.json', 'bad-json', (d: Record<string, string>) => ({ ...d, 'ring.json': Buffer.from(`{"keys": "${Buffer.from(d['ticket.key']!, 'base64').toString('base64')}`).toString('base64') })],
    ['ticket.key of another ring', 'ticket-key-mismatch', (d: Record<string, string>) => ({ ...d, 'ticket.key': Buffer.concat([Buffer.from(d['ticket.key']!, 'base64'), Buffer.from(d['ticket.key']!, 'base64')]).toString('base64') })],
    ['a newer format version', 'unknown-version', (d: Record<string, string>) => {
      const doc = JSON.parse(Buffer.from(d['ring.json']!, 'base64').toString()) as Record<string, unknown>;
      return { ...d, 'ring.json': Buffer.from(JSON.stringify({ ...doc, version: 2 })).toString('base64') };
    }],
  ] as const)('returns %s as a SecretFormatError (%s) with the Secret to write over, no key bytes in the message', async (_name, code, corrupt) => {
    const state = stableState();
    const secret = holding(state, '7');
    nock(SERVER).get(PATH).reply(200, { ...secret, data: corrupt(secret.data) }, JSON_HEADERS);
    const loaded = await new SecretStore({ kubeConfig: fakeKubeConfig() }).load(ref);
    if (!loaded || !('error' in loaded)) throw new Error('expected an error');
    expect(loaded.error).toBeInstanceOf(SecretFormatError);
    expect(loaded.error.code).toBe(code);
    expect(loaded.stored.resourceVersion).toBe('7');
    for (const t of keyTexts(state)) expect(loaded.error.message).not.toContain(t);
  });
});

describe('SecretStore.save', () => {
  const owner = { name: 'web', uid: 'tks-uid' };

  it("without a current Secret creates one holding the codec's content, labelled as ours and controlled by the TicketKeySet", async () => {
    const state = stableState();
    let body: Json = {};
    nock(SERVER)
      .post(COLLECTION)
      .reply(async (req: Request) => {
        body = (await req.json()) as Json;
        return [201, { ...body, metadata: { ...body.metadata, uid: 'new', resourceVersion: '1' } }, JSON_HEADERS];
      });
    const written = await new SecretStore({ kubeConfig: fakeKubeConfig() }).save(ref, owner, state);
    const p = encodeSecret(state);
    expect(body.type).toBe('Opaque');
    expect(body.metadata.name).toBe('web-ticket-keys');
    expect(body.metadata.labels).toEqual({ 'ticketkeys.dev/managed-by': 'ticket-key-operator', 'ticketkeys.dev/ticketkeyset': 'web' });
    expect(body.metadata.annotations).toEqual(p.annotations);
    expect(body.metadata.ownerReferences).toEqual([{ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: 'web', uid: 'tks-uid', controller: true, blockOwnerDeletion: true }]);
    // The API gets the codec's base64 strings as they are; they decode to the state saved.
    expect(body.data).toEqual(p.data);
    expect(decodeSecret({ data: body.data, annotations: body.metadata.annotations })).toEqual(state);
    expect(Buffer.from(body.data['ticket.key'], 'base64').equals(encodeRing(ringMaterial(state)))).toBe(true);
    expect(body.metadata.annotations['ticketkeys.dev/ring-fingerprint']).toBe(ringFingerprint(encodeRing(ringMaterial(state))));
    expect(written).toMatchObject({ uid: 'new', resourceVersion: '1', name: 'web-ticket-keys', namespace: 'edge' });
    expect(written).not.toHaveProperty('data');
  });

  it('over a loaded Secret replaces its content conditional on the resourceVersion read, keeping owners, labels and other annotations and dropping the retired ones', async () => {
    const before = stableState(1);
    nock(SERVER)
      .get(PATH)
      .reply(200, holding(before, '5', { 'ticketkeys.dev/rotate-now-handled': 'r1', 'ticketkeys.dev/revoke-handled': 'v1', 'kept.example/x': 'y' }), JSON_HEADERS);
    let body: Json = {};
    nock(SERVER)
      .put(PATH)
      .reply(async (req: Request) => {
        body = (await req.json()) as Json;
        return [200, { ...body, metadata: { ...body.metadata, resourceVersion: '6' } }, JSON_HEADERS];
      });
    const store = new SecretStore({ kubeConfig: fakeKubeConfig() });
    const loaded = await store.load(ref);
    if (!loaded || !('state' in loaded)) throw new Error('expected a state');
    const next = stableState(2);
    const written = await store.save(ref, owner, next, loaded.stored);
    const p = encodeSecret(next);
    expect(body.metadata.resourceVersion).toBe('5');
    expect(body.metadata.uid).toBe('secret-uid');
    expect(body.metadata.ownerReferences).toEqual(loaded.stored.ownerReferences);
    expect(body.metadata.labels).toEqual({ 'ticketkeys.dev/managed-by': 'ticket-key-operator', team: 'edge' });
    expect(body.metadata.annotations).toEqual({ ...p.annotations, 'kept.example/x': 'y' });
    expect(body.data).toEqual(p.data);
    expect(decodeSecret({ data: body.data, annotations: body.metadata.annotations })).toEqual(next);
    expect(written.resourceVersion).toBe('6');
    expect(written).not.toHaveProperty('data');
  });

  it('tells ownWrites the resourceVersion of each Secret it saved, and nothing for a save that failed', async () => {
    const ownWrites = new OwnWrites();
    const store = new SecretStore({ kubeConfig: fakeKubeConfig(), ownWrites });
    nock(SERVER).put(PATH).reply(200, stored('6'), JSON_HEADERS);
    await store.save(ref, owner, stableState(), SecretStore.metaOf(stored('5')));
    expect(ownWrites.isOwn(stored('6'))).toBe(true);
    nock(SERVER).put(PATH).reply(409, status(409, 'Conflict', 'the object has been modified'), JSON_HEADERS);
    await expect(store.save(ref, owner, stableState(2), SecretStore.metaOf(stored('7')))).rejects.toBeInstanceOf(ConflictError);
    expect(ownWrites.isOwn(stored('6'))).toBe(true);
    expect(ownWrites.isOwn(stored('8'))).toBe(false);
  });

  it('throws ConflictError when the Secret changed since it was read, without key bytes in the message', async () => {
    nock(SERVER).put(PATH).reply(409, status(409, 'Conflict', 'Operation cannot be fulfilled on secrets "web-ticket-keys": the object has been modified'), JSON_HEADERS);
    const state = stableState();
    const err = await new SecretStore({ kubeConfig: fakeKubeConfig() }).save(ref, owner, state, SecretStore.metaOf(stored('5'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toContain('the object has been modified');
    for (const t of keyTexts(state)) expect((err as Error).message).not.toContain(t);
  });

  it('throws AlreadyExistsError when creating over a name that is taken', async () => {
    nock(SERVER).post(COLLECTION).reply(409, status(409, 'AlreadyExists', 'secrets "web-ticket-keys" already exists'), JSON_HEADERS);
    await expect(new SecretStore({ kubeConfig: fakeKubeConfig() }).save(ref, owner, stableState())).rejects.toBeInstanceOf(AlreadyExistsError);
  });

  it('throws NotFoundError when the Secret was deleted since it was read', async () => {
    nock(SERVER).put(PATH).reply(404, status(404, 'NotFound'), JSON_HEADERS);
    await expect(new SecretStore({ kubeConfig: fakeKubeConfig() }).save(ref, owner, stableState(), SecretStore.metaOf(stored('5')))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a state the codec refuses before any request (no interceptor is registered: a request would fail differently)', async () => {
    const state = stableState();
    const err = await new SecretStore({ kubeConfig: fakeKubeConfig() }).save(ref, owner, { ...state, phase: 'Staging' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretFormatError);
    expect((err as SecretFormatError).code).toBe('inconsistent-state');
    for (const t of keyTexts(state)) expect((err as Error).message).not.toContain(t);
    await expect(new SecretStore({ kubeConfig: fakeKubeConfig() }).save(ref, owner, initialState())).rejects.toThrow(/no keys to persist/);
  });
});
