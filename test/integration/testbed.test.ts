// The test bed itself: the pinned API server release, real RBAC with other identities, and the
// fake-pod helper that plays the kubelet.
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { eventually, kubeConfigAs, kubeRequest, statusMessage, statusOf, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { fakePods } from '../../dev/fake-pods.ts';
import { REPO_ROOT } from '../../dev/testbed/testbed.ts';
import { requiredVersion } from '../../dev/testbed/tools.ts';
import type { V1Pod } from '@kubernetes/client-node';

const ns = useNamespace('testbed');
const kc = testKubeConfig();

function conditionStatus(pod: V1Pod, type: string): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === type)?.status;
}

describe('test bed', () => {
  it('serves the Kubernetes release pinned in dev/testbed/tools/kube/go.mod', async () => {
    const pinned = requiredVersion(join(REPO_ROOT, 'dev/testbed/tools/kube/go.mod'), 'k8s.io/kubernetes');
    const res = await kubeRequest(kc, 'GET', '/version');
    expect(res.status).toBe(200);
    expect(res.json<{ gitVersion: string }>().gitVersion).toBe(pinned);
  });

  it('authorizes other identities with real RBAC', async () => {
    const alice = (await kubeConfigAs({ user: 'alice', groups: ['pod-readers'] })).makeApiClient(CoreV1Api);
    const denied = await alice.listNamespacedPod({ namespace: ns.name }).catch((err: unknown) => err);
    expect(statusOf(denied)).toBe(403);
    expect(statusMessage(denied)).toContain('User "alice" cannot list resource "pods"');

    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name: 'pod-readers' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'pod-readers' }],
      },
    });
    // The RBAC authorizer reads roles through an informer: the grant arrives shortly after.
    const pods = await eventually('alice may list pods', () => alice.listNamespacedPod({ namespace: ns.name }));
    expect(pods.items).toBeDefined();
    const stillDenied = await alice.listNamespacedSecret({ namespace: ns.name }).catch((err: unknown) => err);
    expect(statusOf(stillDenied)).toBe(403);
  });
});

describe('fake pods', () => {
  const pods = fakePods(kc, ns.name);

  it('creates a Running, Ready pod with its labels and loopback IP', async () => {
    const pod = await pods.create({ name: 'ats-0', labels: { app: 'ats' }, ip: '127.0.0.21' });
    expect(pod.metadata?.labels).toEqual({ app: 'ats', 'ticketkeys.dev/agent': 'true' }); // the agent label by default
    expect(pod.status?.phase).toBe('Running');
    expect(pod.status?.podIP).toBe('127.0.0.21');
    expect(conditionStatus(pod, 'ContainersReady')).toBe('True');
    expect(conditionStatus(pod, 'Ready')).toBe('True');
    // Written through the status subresource, so the stored object says the same.
    expect((await pods.get('ats-0')).status?.podIP).toBe('127.0.0.21');
  });

  it('turns a pod not Ready and Ready again', async () => {
    await pods.create({ name: 'ats-1', labels: { app: 'ats' } });
    const notReady = await pods.setContainersReady('ats-1', false);
    expect(conditionStatus(notReady, 'Ready')).toBe('False');
    expect(notReady.status?.phase).toBe('Running');
    const ready = await pods.setContainersReady('ats-1', true);
    expect(conditionStatus(ready, 'Ready')).toBe('True');
  });

  it('keeps a pod with a readiness gate not Ready until the gate condition is True', async () => {
    const gate = 'ticketkeys.dev/keys-installed';
    const pod = await pods.create({ name: 'ats-2', labels: { app: 'ats' }, readinessGates: [gate] });
    expect(pod.spec?.readinessGates).toEqual([{ conditionType: gate }]);
    expect(conditionStatus(pod, 'ContainersReady')).toBe('True');
    expect(conditionStatus(pod, 'Ready')).toBe('False');

    // What the operator does: set the gate condition through pods/status.
    const core = kc.makeApiClient(CoreV1Api);
    const current = await pods.get('ats-2');
    current.status?.conditions?.push({ type: gate, status: 'True', lastTransitionTime: new Date() });
    await core.replaceNamespacedPodStatus({ name: 'ats-2', namespace: ns.name, body: current });

    const synced = await pods.syncReadiness('ats-2');
    expect(conditionStatus(synced, gate)).toBe('True');
    expect(conditionStatus(synced, 'Ready')).toBe('True');
  });

  it('restarts a pod as a new object with the same name, labels and IP', async () => {
    const before = await pods.create({ name: 'ats-3', labels: { app: 'ats', role: 'edge' }, ip: '127.0.0.23' });
    await pods.setContainersReady('ats-3', false);
    const after = await pods.restart('ats-3');
    expect(after.metadata?.name).toBe('ats-3');
    expect(after.metadata?.uid).not.toBe(before.metadata?.uid);
    expect(after.metadata?.labels).toEqual({ app: 'ats', role: 'edge', 'ticketkeys.dev/agent': 'true' });
    expect(after.status?.podIP).toBe('127.0.0.23');
    expect(conditionStatus(after, 'Ready')).toBe('True');
  });

  it('deletes a pod at once although no kubelet confirms it', async () => {
    await pods.create({ name: 'ats-4', labels: { app: 'ats' } });
    await pods.delete('ats-4');
    const gone = await pods.get('ats-4').catch((err: unknown) => err);
    expect(statusOf(gone)).toBe(404);
  });
});
