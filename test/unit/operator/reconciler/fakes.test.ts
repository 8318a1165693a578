// The fakes answer as the real store and API server do, so the reconcile tests above them
// test the shell and not a kinder world: a merge patch deletes what it sets to null, a create
// of a taken name and an update of a gone Secret fail as SecretStore's do.
import { describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../../../src/operator/runtime/api-errors.ts';
import { FakeSource } from '../runtime/fake-source.ts';
import { aTicketKeySet } from './builders.ts';
import { FakeSecrets, mergePatch, statusInto } from './fakes.ts';

const ref = { namespace: 'ns', name: 'web-ticket-keys' };
const owner = { name: 'web', uid: 'tks-uid' };
const data = { 'ring.json': new Uint8Array([1, 2, 3]) };

describe('FakeSecrets', () => {
  it('deletes an annotation set to null and keeps the others, as SecretStore.update does', async () => {
    const s = new FakeSecrets();
    const created = await s.create(ref, owner, { data, annotations: { a: '1', b: '2', c: null } });
    expect(created.annotations).toEqual({ a: '1', b: '2' });
    const updated = await s.update(created, { data, annotations: { a: null, d: '4' } });
    expect(updated.annotations).toEqual({ b: '2', d: '4' });
    expect(updated.resourceVersion).toBe('2');
  });

  it('labels the Secret as ours and makes the TicketKeySet its controller', async () => {
    const created = await new FakeSecrets().create(ref, owner, { data });
    expect(created.labels).toEqual({ 'ticketkeys.dev/ticketkeyset': 'web', 'ticketkeys.dev/managed-by': 'ticket-key-operator' });
    expect(created.ownerReferences).toEqual([expect.objectContaining({ name: 'web', uid: 'tks-uid', controller: true, blockOwnerDeletion: true })]);
  });

  it('fails as the API server does: a taken name, a stale resourceVersion, a Secret that is gone', async () => {
    const s = new FakeSecrets();
    const created = await s.create(ref, owner, { data });
    await expect(s.create(ref, owner, { data })).rejects.toBeInstanceOf(AlreadyExistsError);
    await s.update(created, { data });
    await expect(s.update(created, { data })).rejects.toBeInstanceOf(ConflictError);
    s.stored = undefined;
    await expect(s.update(created, { data })).rejects.toBeInstanceOf(NotFoundError);
    expect(s.writes).toBe(2);
  });
});

describe('statusInto', () => {
  it('applies the status as a merge patch: nested objects merged, null deleted at any depth, arrays replaced', async () => {
    const source = new FakeSource<TicketKeySet>({ objects: [aTicketKeySet().build()] });
    const port = statusInto(source);
    const at = { namespace: 'ns', name: 'web' };
    await port.patchStatus(at, { phase: 'Stable', pods: { total: 2, converged: 2, resumption: { ratio: '1' } as never }, retiredKeys: [{ fingerprint: 'a' }] as never }, 1);
    await port.patchStatus(at, { phase: null as never, pods: { converged: 1, resumption: null as never }, retiredKeys: [] }, 2);
    expect(source.get('web', 'ns')!.status).toEqual({ pods: { total: 2, converged: 1 }, retiredKeys: [], observedGeneration: 2 });
  });

  it('merges like RFC 7386', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, d: [1] }, { a: { b: null, e: 3 }, d: [2] })).toEqual({ a: { c: 2, e: 3 }, d: [2] });
  });
});
