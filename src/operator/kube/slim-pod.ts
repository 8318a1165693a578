// What the pod informer keeps of a Pod: the fields the operator reads, nothing else. A real
// pod object (managed fields, container specs, volumes, statuses) is tens of kilobytes in the
// heap; an operator watching 10,000 pods would hold hundreds of megabytes of it (issue 12: the
// goal is 200 MB RSS in all). Like client-go's informer transforms, applied on arrival to listed
// and watched pods alike. Readers: reconciler/pods.ts (targets, readiness gate), the readiness
// gate writer (kube/pod-readiness.ts), the agent PKI (service accounts), selector conflicts
// and Events (labels, name, uid). A field read anywhere else must be added here.
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node';

export function slimPod(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {};
  const spec = pod.spec;
  const status = pod.status;
  // Of the kubelet's conditions only Ready is read; of the others, those the pod declares as
  // readiness gates (the operator's own among them). The rest (PodScheduled, Initialized,
  // ContainersReady…) would cost a few hundred bytes a pod, each with its Date.
  const gates = new Set((spec?.readinessGates ?? []).map((g) => g.conditionType));
  const conditions = (status?.conditions ?? []).filter((c) => c.type === 'Ready' || gates.has(c.type)).map(slimCondition);
  return {
    apiVersion: pod.apiVersion ?? 'v1',
    kind: pod.kind ?? 'Pod',
    metadata: {
      ...(m.name !== undefined ? { name: m.name } : {}),
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      ...(m.uid !== undefined ? { uid: m.uid } : {}),
      ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
      ...(m.creationTimestamp !== undefined ? { creationTimestamp: m.creationTimestamp } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    ...(spec
      ? {
          spec: {
            containers: [], // required by the type; no reader looks at containers
            ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
            ...(spec.readinessGates?.length ? { readinessGates: spec.readinessGates.map((g) => ({ conditionType: g.conditionType })) } : {}),
          },
        }
      : {}),
    ...(status
      ? {
          status: {
            ...(status.phase ? { phase: status.phase } : {}),
            ...(status.podIP ? { podIP: status.podIP } : {}),
            ...(conditions.length ? { conditions } : {}),
          },
        }
      : {}),
  };
}

function slimCondition(c: V1PodCondition): V1PodCondition {
  return {
    type: c.type,
    status: c.status,
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.message !== undefined ? { message: c.message } : {}),
    ...(c.lastTransitionTime !== undefined ? { lastTransitionTime: c.lastTransitionTime } : {}),
  };
}
