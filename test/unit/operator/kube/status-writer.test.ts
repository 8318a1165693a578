import { describe, expect, it } from '@jest/globals';
import nock from 'nock';
import { ConflictError, NotFoundError } from '../../../../src/operator/runtime/api-errors.ts';
import { TicketKeySetStatusWriter } from '../../../../src/operator/kube/status-writer.ts';
import { JSON_HEADERS, SERVER, fakeKubeConfig, status, useNock } from '../kube-fake.ts';

const PATH = '/apis/ticketkeys.dev/v1alpha1/namespaces/edge/ticketkeysets/web/status';
const ref = { namespace: 'edge', name: 'web' };

useNock();

function tks(resourceVersion: string, statusBody: Record<string, unknown> = {}) {
  return { apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', metadata: { namespace: 'edge', name: 'web', resourceVersion, generation: 4 }, spec: {}, status: statusBody };
}

describe('TicketKeySetStatusWriter.patchStatus', () => {
  it('merge-patches the status subresource and sets observedGeneration', async () => {
    let contentType: string | null = null;
    let body: unknown;
    nock(SERVER)
      .patch(PATH)
      .reply(async (req: Request) => {
        contentType = req.headers.get('content-type');
        body = await req.json();
        return [200, tks('9', { phase: 'Stable', observedGeneration: 4 }), JSON_HEADERS];
      });
    const writer = new TicketKeySetStatusWriter({ kubeConfig: fakeKubeConfig() });
    const written = await writer.patchStatus(ref, { phase: 'Stable', stagedKey: null }, 4);
    expect(contentType).toBe('application/merge-patch+json');
    expect(body).toEqual({ status: { phase: 'Stable', stagedKey: null, observedGeneration: 4 } });
    expect(written.metadata?.resourceVersion).toBe('9');
  });

  it('throws NotFoundError when the TicketKeySet is gone', async () => {
    nock(SERVER).patch(PATH).reply(404, status(404, 'NotFound', 'ticketkeysets.ticketkeys.dev "web" not found'), JSON_HEADERS);
    const writer = new TicketKeySetStatusWriter({ kubeConfig: fakeKubeConfig() });
    await expect(writer.patchStatus(ref, {}, 1)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('TicketKeySetStatusWriter.updateStatus', () => {
  it('replaces the status conditionally on the read resourceVersion and retries after 409', async () => {
    const puts: Array<{ resourceVersion: string; status: unknown }> = [];
    const scope = nock(SERVER)
      .get(PATH)
      .reply(200, tks('10', { keyGeneration: 1 }), JSON_HEADERS)
      .put(PATH)
      .reply(async (req: Request) => {
        const b = (await req.json()) as { metadata: { resourceVersion: string }; status: unknown };
        puts.push({ resourceVersion: b.metadata.resourceVersion, status: b.status });
        return [409, status(409, 'Conflict', 'the object has been modified'), JSON_HEADERS];
      })
      .get(PATH)
      .reply(200, tks('11', { keyGeneration: 2 }), JSON_HEADERS)
      .put(PATH)
      .reply(async (req: Request) => {
        const b = (await req.json()) as { metadata: { resourceVersion: string }; status: unknown };
        puts.push({ resourceVersion: b.metadata.resourceVersion, status: b.status });
        return [200, { ...tks('12'), status: b.status }, JSON_HEADERS];
      });
    const writer = new TicketKeySetStatusWriter({ kubeConfig: fakeKubeConfig() });
    const seen: unknown[] = [];
    const written = await writer.updateStatus(ref, 4, (current) => {
      seen.push(current.status);
      return { ...(current.status as object), phase: 'Staging' };
    });
    expect(scope.isDone()).toBe(true);
    expect(seen).toEqual([{ keyGeneration: 1 }, { keyGeneration: 2 }]);
    expect(puts).toEqual([
      { resourceVersion: '10', status: { keyGeneration: 1, phase: 'Staging', observedGeneration: 4 } },
      { resourceVersion: '11', status: { keyGeneration: 2, phase: 'Staging', observedGeneration: 4 } },
    ]);
    expect(written.metadata?.resourceVersion).toBe('12');
  });

  it('gives up with ConflictError after the configured retries', async () => {
    nock(SERVER).get(PATH).times(3).reply(200, tks('10'), JSON_HEADERS).put(PATH).times(3).reply(409, status(409, 'Conflict'), JSON_HEADERS);
    const writer = new TicketKeySetStatusWriter({ kubeConfig: fakeKubeConfig(), maxConflictRetries: 2 });
    await expect(writer.updateStatus(ref, 1, () => ({ phase: 'Stable' }))).rejects.toBeInstanceOf(ConflictError);
    expect(nock.isDone()).toBe(true);
  });

  it('writes nothing when mutate returns undefined', async () => {
    const scope = nock(SERVER).get(PATH).reply(200, tks('10', { phase: 'Stable' }), JSON_HEADERS);
    const writer = new TicketKeySetStatusWriter({ kubeConfig: fakeKubeConfig() });
    const result = await writer.updateStatus(ref, 4, () => undefined);
    expect(scope.isDone()).toBe(true);
    expect(result.metadata?.resourceVersion).toBe('10');
  });
});
