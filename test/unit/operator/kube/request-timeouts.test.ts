// Every Kubernetes call of the operator is bounded: an API server that accepts the request and
// never answers (a reply held back past the timeout) fails the call with a clear KubeTimeoutError
// instead of hanging it (client-node 2.x sets no timeout of its own).
import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import nock from 'nock';
import { TicketKeySetAnnotator } from '../../../../src/operator/kube/annotations.ts';
import { KubeTimeoutError } from '../../../../src/operator/runtime/api-errors.ts';
import { EventRecorder } from '../../../../src/operator/kube/event-recorder.ts';
import { PodReadinessGate } from '../../../../src/operator/kube/pod-readiness.ts';
import { SecretStore } from '../../../../src/operator/kube/secret-store.ts';
import { TicketKeySetStatusWriter } from '../../../../src/operator/kube/status-writer.ts';
import { silentLogger } from '../logger.ts';
import { JSON_HEADERS, SERVER, fakeKubeConfig, useNock } from '../kube-fake.ts';

useNock();

const TIMEOUT_MS = 100;
/** Far past the timeout: without one, the call would wait this long and then succeed. */
const LATE_MS = 1_500;
const ref = { namespace: 'edge', name: 'web' };
const kubeConfig = fakeKubeConfig();

/** A reply that comes only after LATE_MS (the interceptor holds the response back). */
function late(code: number, body: Record<string, unknown>) {
  return async () => {
    await sleep(LATE_MS);
    return [code, body, JSON_HEADERS] as [number, Record<string, unknown>, Record<string, string>];
  };
}

describe('Kubernetes request timeouts', () => {
  it('SecretStore.load fails with KubeTimeoutError naming the Secret when the answer is late', async () => {
    nock(SERVER).get('/api/v1/namespaces/edge/secrets/web-ticket-keys').reply(late(200, { metadata: { name: 'web-ticket-keys' } }));
    const store = new SecretStore({ kubeConfig, requestTimeoutMs: TIMEOUT_MS });
    const err = await store.load({ namespace: 'edge', name: 'web-ticket-keys' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTimeoutError);
    expect((err as Error).message).toBe('secret edge/web-ticket-keys: no answer from the Kubernetes API within the request timeout');
  });

  it('an answer within the timeout is unaffected', async () => {
    nock(SERVER).get('/api/v1/namespaces/edge/secrets/web-ticket-keys').delay(10).reply(200, { metadata: { name: 'web-ticket-keys', resourceVersion: '3' } }, JSON_HEADERS);
    const store = new SecretStore({ kubeConfig, requestTimeoutMs: 2_000 });
    expect((await store.load({ namespace: 'edge', name: 'web-ticket-keys' }))?.stored.resourceVersion).toBe('3');
  });

  it('status patches time out', async () => {
    nock(SERVER).patch('/apis/ticketkeys.dev/v1alpha1/namespaces/edge/ticketkeysets/web/status').reply(late(200, {}));
    const writer = new TicketKeySetStatusWriter({ kubeConfig, requestTimeoutMs: TIMEOUT_MS });
    await expect(writer.patchStatus(ref, { phase: 'Stable' }, 1)).rejects.toBeInstanceOf(KubeTimeoutError);
  });

  it('pod readiness-gate patches time out', async () => {
    nock(SERVER).patch('/api/v1/namespaces/edge/pods/ats-0/status').reply(late(200, {}));
    const gate = new PodReadinessGate({ kubeConfig, requestTimeoutMs: TIMEOUT_MS });
    const pod = { metadata: { namespace: 'edge', name: 'ats-0', uid: 'u' } };
    await expect(gate.setCondition(pod, { status: true, reason: 'RingInstalled', message: 'ok' })).rejects.toBeInstanceOf(KubeTimeoutError);
  });

  it('annotation patches (tko rotate, tko revoke) time out', async () => {
    nock(SERVER).patch('/apis/ticketkeys.dev/v1alpha1/namespaces/edge/ticketkeysets/web').reply(late(200, {}));
    const annotator = new TicketKeySetAnnotator({ kubeConfig, requestTimeoutMs: TIMEOUT_MS });
    await expect(annotator.requestRotation(ref)).rejects.toBeInstanceOf(KubeTimeoutError);
  });

  it('an Event write that times out is given up (best effort) instead of holding the caller', async () => {
    nock(SERVER).post('/apis/events.k8s.io/v1/namespaces/edge/events').reply(late(201, {}));
    const recorder = new EventRecorder({ kubeConfig, reportingInstance: 'op-0', logger: silentLogger(), requestTimeoutMs: TIMEOUT_MS });
    const tks = { apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', metadata: { namespace: 'edge', name: 'web', uid: 't' } };
    await expect(recorder.record(tks, { type: 'Normal', reason: 'KeyStaged', action: 'Stage', note: 'n' })).resolves.toBeUndefined();
  });
});
