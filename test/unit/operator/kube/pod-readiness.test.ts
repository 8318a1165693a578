import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import nock from 'nock';
import { ConflictError } from '../../../../src/operator/runtime/api-errors.ts';
import { PodReadinessGate } from '../../../../src/operator/kube/pod-readiness.ts';
import { FakeClock } from '../runtime/fake-clock.ts';
import { JSON_HEADERS, SERVER, fakeKubeConfig, status, useNock, type Json } from '../kube-fake.ts';

const PATH = '/api/v1/namespaces/edge/pods/ats-0/status';

useNock();

function pod(conditions: V1Pod['status'] extends infer S ? (S extends { conditions?: infer C } ? C : never) : never = []): V1Pod {
  return {
    metadata: { namespace: 'edge', name: 'ats-0', uid: 'pod-uid-1' },
    spec: { containers: [], readinessGates: [{ conditionType: 'ticketkeys.dev/keys-installed' }] },
    status: { phase: 'Running', conditions },
  };
}

function capture() {
  const seen: Array<{ contentType: string | null; body: Json }> = [];
  nock(SERVER)
    .persist()
    .patch(PATH)
    .reply(async (req: Request) => {
      const body = await req.json();
      seen.push({ contentType: req.headers.get('content-type'), body });
      return [200, pod(), JSON_HEADERS];
    });
  return seen;
}

describe('PodReadinessGate', () => {
  it('knows which pods declare the readiness gate', () => {
    const gate = new PodReadinessGate({ kubeConfig: fakeKubeConfig() });
    expect(gate.declaredBy(pod())).toBe(true);
    expect(gate.declaredBy({ ...pod(), spec: { containers: [] } })).toBe(false);
  });

  it('strategic-merge-patches pods/status with the condition and the pod uid as precondition', async () => {
    const seen = capture();
    const clock = new FakeClock(Date.UTC(2026, 10, 25, 12, 0, 0, 123));
    const gate = new PodReadinessGate({ kubeConfig: fakeKubeConfig(), clock });
    const result = await gate.setCondition(pod([{ type: 'Ready', status: 'False' }]), { status: true, reason: 'RingInstalled', message: 'agent holds generation 8' });
    expect(result).toBeDefined();
    expect(seen).toEqual([
      {
        contentType: 'application/strategic-merge-patch+json',
        body: {
          metadata: { uid: 'pod-uid-1' },
          status: {
            conditions: [{ type: 'ticketkeys.dev/keys-installed', status: 'True', reason: 'RingInstalled', message: 'agent holds generation 8', lastTransitionTime: '2026-11-25T12:00:00Z' }],
          },
        },
      },
    ]);
  });

  it('sends nothing when the condition already says the same', async () => {
    const seen = capture();
    const gate = new PodReadinessGate({ kubeConfig: fakeKubeConfig() });
    const current = pod([{ type: 'ticketkeys.dev/keys-installed', status: 'True', reason: 'RingInstalled', message: 'ok' }]);
    expect(await gate.setCondition(current, { status: true, reason: 'RingInstalled', message: 'ok' })).toBeUndefined();
    expect(seen).toEqual([]);
  });

  it('keeps lastTransitionTime when only the message changes', async () => {
    const seen = capture();
    const gate = new PodReadinessGate({ kubeConfig: fakeKubeConfig() });
    const current = pod([{ type: 'ticketkeys.dev/keys-installed', status: 'False', reason: 'RingBehind', message: 'generation 7 of 8' }]);
    await gate.setCondition(current, { status: false, reason: 'RingBehind', message: 'generation 6 of 8' });
    expect(seen[0]!.body.status.conditions[0]).toEqual({ type: 'ticketkeys.dev/keys-installed', status: 'False', reason: 'RingBehind', message: 'generation 6 of 8' });
  });

  it('reports a pod replaced under the same name (uid precondition) as ConflictError', async () => {
    nock(SERVER)
      .patch(PATH)
      .reply(422, status(422, 'Invalid', 'Pod "ats-0" is invalid: metadata.uid: Invalid value: "pod-uid-1": field is immutable'), JSON_HEADERS);
    const gate = new PodReadinessGate({ kubeConfig: fakeKubeConfig() });
    await expect(gate.setCondition(pod(), { status: true, reason: 'RingInstalled', message: 'ok' })).rejects.toBeInstanceOf(ConflictError);
  });
});
