import { describe, expect, it } from '@jest/globals';
import nock from 'nock';
import { NotFoundError } from '../../../../src/operator/runtime/api-errors.ts';
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
