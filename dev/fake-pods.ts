// "Pods" for tests: real Pod objects in the test bed's API server whose status this helper
// writes through the status subresource, playing the kubelet that the test bed does not run.
// Whatever serves the pod (an agent, ATS) listens on the pod's loopback IP (127.0.0.x).
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { LABEL_AGENT_POD } from '../src/api/names.ts';
import { statusCodeOf as statusOf } from '../src/operator/runtime/api-errors.ts';

export interface FakePodSpec {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Pod readiness gates (condition types) that someone else, e.g. the operator, must set True. */
  readinessGates?: string[];
  /** The pod IP: a loopback address where the test runs the pod's servers. */
  ip?: string;
  /** Whether the containers report ready (default true). */
  containersReady?: boolean;
  containerPorts?: Array<{ name: string; containerPort: number }>;
  /** spec.serviceAccountName (admission fills in "default" when unset). */
  serviceAccountName?: string;
}

let nextDefaultIp = 0;
/** 127.0.0.2–251 in turn; tests that bind servers should pass their own `ip`. */
function defaultIp(): string {
  return `127.0.0.${2 + (nextDefaultIp++ % 250)}`;
}

function condition(type: string, status: boolean, now: Date, reason?: string): V1PodCondition {
  return { type, status: status ? 'True' : 'False', lastTransitionTime: now, ...(reason ? { reason } : {}) };
}

/** Ready as the kubelet computes it: containers ready and every readiness gate condition True. */
function readyFrom(pod: V1Pod, containersReady: boolean): { ready: boolean; reason?: string } {
  if (!containersReady) return { ready: false, reason: 'ContainersNotReady' };
  const conditions = pod.status?.conditions ?? [];
  const missing = (pod.spec?.readinessGates ?? []).filter((g) => conditions.find((c) => c.type === g.conditionType)?.status !== 'True');
  return missing.length > 0 ? { ready: false, reason: 'ReadinessGatesNotReady' } : { ready: true };
}

/** Keeps conditions that are not the kubelet's (readiness gate conditions set by others). */
function withKubeletConditions(pod: V1Pod, containersReady: boolean, now: Date): V1PodCondition[] {
  const kubeletTypes = new Set(['PodScheduled', 'Initialized', 'ContainersReady', 'Ready', 'PodReadyToStartContainers']);
  const previous = new Map((pod.status?.conditions ?? []).map((c) => [c.type, c]));
  const keepTransition = (c: V1PodCondition): V1PodCondition => {
    const old = previous.get(c.type);
    return old && old.status === c.status && old.lastTransitionTime ? { ...c, lastTransitionTime: old.lastTransitionTime } : c;
  };
  const { ready, reason } = readyFrom(pod, containersReady);
  return [
    ...(pod.status?.conditions ?? []).filter((c) => !kubeletTypes.has(c.type)),
    keepTransition(condition('PodScheduled', true, now)),
    keepTransition(condition('Initialized', true, now)),
    keepTransition(condition('ContainersReady', containersReady, now, containersReady ? undefined : 'ContainersNotReady')),
    keepTransition(condition('Ready', ready, now, reason)),
  ];
}

export class FakePods {
  readonly namespace: string;
  private readonly core: CoreV1Api;
  private readonly specs = new Map<string, FakePodSpec>();

  constructor(kc: KubeConfig, namespace: string) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.namespace = namespace;
  }

  /** Creates the Pod and reports it Running with the given IP (Ready unless told otherwise). */
  async create(spec: FakePodSpec): Promise<V1Pod> {
    const full = { ...spec, ip: spec.ip ?? defaultIp() };
    this.specs.set(spec.name, full);
    const created = await this.core.createNamespacedPod({
      namespace: this.namespace,
      body: {
        // Pods running the agent carry the label the operator's pod informer selects by default.
        metadata: { name: spec.name, labels: { [LABEL_AGENT_POD]: 'true', ...spec.labels }, annotations: spec.annotations ?? {} },
        spec: {
          // Already "scheduled": there is no scheduler, and a Running pod always has a node.
          nodeName: 'testbed-node',
          automountServiceAccountToken: false,
          ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
          containers: [{ name: 'ats', image: 'ticket-key-operator/fake-ats:test', ports: spec.containerPorts ?? [] }],
          readinessGates: (spec.readinessGates ?? []).map((conditionType) => ({ conditionType })),
        },
      },
    });
    const name = created.metadata?.name ?? spec.name;
    return this.updateStatus(name, (pod) => this.writeStatus(pod, full.containersReady ?? true, full.ip));
  }

  async get(name: string): Promise<V1Pod> {
    return this.core.readNamespacedPod({ name, namespace: this.namespace });
  }

  /** The containers stop (or start again) reporting ready; Ready follows, as with a probe. */
  async setContainersReady(name: string, ready: boolean): Promise<V1Pod> {
    return this.updateStatus(name, (pod) => this.writeStatus(pod, ready));
  }

  /**
   * Recomputes Ready after someone changed a readiness gate condition: the step the kubelet
   * takes on its own in a real cluster.
   */
  async syncReadiness(name: string): Promise<V1Pod> {
    return this.updateStatus(name, (pod) => {
      const containersReady = pod.status?.conditions?.find((c) => c.type === 'ContainersReady')?.status === 'True';
      return this.writeStatus(pod, containersReady);
    });
  }

  /** Deletes at once (grace period 0: no kubelet would ever confirm a graceful stop) and waits until gone. */
  async delete(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 0 });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    for (;;) {
      try {
        await this.get(name);
      } catch (err) {
        if (statusOf(err) === 404) return;
        throw err;
      }
      await sleep(20);
    }
  }

  /** A new pod with the same name, labels and IP: a new uid and a fresh status, like a rescheduled pod. */
  async restart(name: string, changes: Partial<FakePodSpec> = {}): Promise<V1Pod> {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`pod ${name} was not created by this FakePods`);
    await this.delete(name);
    return this.create({ ...spec, ...changes, name });
  }

  private async updateStatus(name: string, write: (pod: V1Pod) => Promise<V1Pod>): Promise<V1Pod> {
    // Read-modify-write with the resourceVersion as a precondition; retry on a lost race (409).
    for (let attempt = 0; ; attempt++) {
      try {
        return await write(await this.get(name));
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= 20) throw err;
      }
    }
  }

  private async writeStatus(pod: V1Pod, containersReady: boolean, ip?: string): Promise<V1Pod> {
    const now = new Date();
    const podIP = ip ?? pod.status?.podIP ?? this.specs.get(pod.metadata?.name ?? '')?.ip ?? defaultIp();
    const containerName = pod.spec?.containers[0]?.name ?? 'ats';
    const body: V1Pod = {
      ...pod,
      status: {
        ...pod.status,
        phase: 'Running',
        podIP,
        podIPs: [{ ip: podIP }],
        hostIP: '127.0.0.1',
        hostIPs: [{ ip: '127.0.0.1' }],
        startTime: pod.status?.startTime ?? now,
        conditions: withKubeletConditions(pod, containersReady, now),
        containerStatuses: [
          {
            name: containerName,
            image: pod.spec?.containers[0]?.image ?? '',
            imageID: '',
            ready: containersReady,
            restartCount: 0,
            started: true,
            state: { running: { startedAt: pod.status?.startTime ?? now } },
          },
        ],
      },
    };
    return this.core.replaceNamespacedPodStatus({ name: pod.metadata?.name ?? '', namespace: this.namespace, body });
  }
}

/** Fake pods in one namespace, as the given user (normally the test bed admin). */
export function fakePods(kc: KubeConfig, namespace: string): FakePods {
  return new FakePods(kc, namespace);
}
