import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { slimPod } from '../../../../src/operator/kube/slim-pod.ts';
import { targetPods } from '../../../../src/operator/reconciler/pods.ts';

const full: V1Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'ats-0',
    namespace: 'edge',
    uid: 'u-1',
    resourceVersion: '42',
    creationTimestamp: new Date('2026-12-06T08:00:00Z'),
    labels: { app: 'edge' },
    annotations: { big: 'x'.repeat(10_000) },
    managedFields: [{ manager: 'kubelet', operation: 'Update', fieldsV1: { 'f:status': {} } }],
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'ats', uid: 'o-1' }],
    deletionTimestamp: new Date('2026-12-06T10:00:00Z'),
  },
  spec: {
    serviceAccountName: 'ats',
    readinessGates: [{ conditionType: 'ticketkeys.dev/keys-installed' }],
    containers: [{ name: 'ats', image: 'ats:1', env: [{ name: 'A', value: 'b' }] }],
    volumes: [{ name: 'config', configMap: { name: 'ats' } }],
  },
  status: {
    phase: 'Running',
    podIP: '10.0.0.5',
    podIPs: [{ ip: '10.0.0.5' }],
    conditions: [
      { type: 'Ready', status: 'True', lastTransitionTime: new Date('2026-12-06T09:00:00Z') },
      { type: 'ticketkeys.dev/keys-installed', status: 'True', reason: 'RingInstalled', message: 'ok' },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: new Date('2026-12-06T08:00:01Z') },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: new Date('2026-12-06T09:00:00Z') },
      { type: 'example.com/other-gate', status: 'False' },
    ],
    containerStatuses: [{ name: 'ats', image: 'ats:1', imageID: 'x', ready: true, restartCount: 0 }],
  },
};

describe('slimPod', () => {
  it('keeps what the operator reads and drops the rest', () => {
    const slim = slimPod(full);
    expect(slim.metadata).toEqual({ name: 'ats-0', namespace: 'edge', uid: 'u-1', resourceVersion: '42', creationTimestamp: full.metadata!.creationTimestamp, labels: { app: 'edge' }, deletionTimestamp: full.metadata!.deletionTimestamp });
    expect(slim.spec).toEqual({ containers: [], serviceAccountName: 'ats', readinessGates: [{ conditionType: 'ticketkeys.dev/keys-installed' }] });
    // Ready and the declared readiness gate; not the kubelet's other conditions, nor a gate the pod does not declare.
    expect(slim.status).toEqual({ phase: 'Running', podIP: '10.0.0.5', conditions: full.status!.conditions!.slice(0, 2) });
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(full).length / 10);
  });

  it('gives the reconciler the same target as the full object', () => {
    const { pod: _fullPod, ...fromFull } = targetPods([full], { matchLabels: { app: 'edge' } })[0]!;
    const { pod: _slimPod, ...fromSlim } = targetPods([slimPod(full)], { matchLabels: { app: 'edge' } })[0]!;
    expect(fromSlim).toEqual(fromFull);
    expect(fromFull).toMatchObject({ ready: true, terminating: true, declaresGate: true, gateTrue: true, serviceAccountName: 'ats' });
  });

  it('keeps every condition type the pod declares as a readiness gate, whatever the operator is configured with', () => {
    const pod: V1Pod = {
      metadata: { name: 'p' },
      spec: { containers: [], readinessGates: [{ conditionType: 'example.com/keys' }] },
      status: { conditions: [{ type: 'example.com/keys', status: 'True' }, { type: 'Initialized', status: 'True' }] },
    };
    expect(slimPod(pod).status?.conditions).toEqual([{ type: 'example.com/keys', status: 'True' }]);
  });

  it('keeps an absent spec or status absent', () => {
    expect(slimPod({ metadata: { name: 'p' } })).toEqual({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } });
  });
});
