import { describe, expect, it } from '@jest/globals';
import nock from 'nock';
import { NotFoundError } from '../../../../src/operator/runtime/api-errors.ts';
import { TicketKeySetAnnotator } from '../../../../src/operator/kube/annotations.ts';
import { FakeClock } from '../runtime/fake-clock.ts';
import { JSON_HEADERS, SERVER, fakeKubeConfig, status, useNock } from '../kube-fake.ts';

const PATH = '/apis/ticketkeys.dev/v1alpha1/namespaces/edge/ticketkeysets/web';
const ref = { namespace: 'edge', name: 'web' };

useNock();

describe('TicketKeySetAnnotator', () => {
  it.each([
    ['requestRotation', 'ticketkeys.dev/rotate-now'],
    ['requestRevoke', 'ticketkeys.dev/revoke'],
  ] as const)('%s merge-patches %s with a fresh timestamp', async (method, annotation) => {
    let body: unknown;
    let contentType: string | null = null;
    nock(SERVER)
      .patch(PATH)
      .reply(async (req: Request) => {
        body = await req.json();
        contentType = req.headers.get('content-type');
        return [200, { metadata: { name: 'web' } }, JSON_HEADERS];
      });
    const clock = new FakeClock();
    const value = await new TicketKeySetAnnotator({ kubeConfig: fakeKubeConfig(), clock })[method](ref);
    expect(value).toBe(new Date(clock.now()).toISOString());
    expect(contentType).toBe('application/merge-patch+json');
    expect(body).toEqual({ metadata: { annotations: { [annotation]: value } } });
  });

  it('removes an annotation with null', async () => {
    let body: unknown;
    nock(SERVER)
      .patch(PATH)
      .reply(async (req: Request) => {
        body = await req.json();
        return [200, { metadata: { name: 'web' } }, JSON_HEADERS];
      });
    await new TicketKeySetAnnotator({ kubeConfig: fakeKubeConfig() }).setAnnotation(ref, 'ticketkeys.dev/revoke', null);
    expect(body).toEqual({ metadata: { annotations: { 'ticketkeys.dev/revoke': null } } });
  });

  it('throws NotFoundError for a missing TicketKeySet', async () => {
    nock(SERVER).patch(PATH).reply(404, status(404, 'NotFound'), JSON_HEADERS);
    await expect(new TicketKeySetAnnotator({ kubeConfig: fakeKubeConfig() }).requestRotation(ref)).rejects.toBeInstanceOf(NotFoundError);
  });
});
