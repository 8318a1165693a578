// Sets the `ticketkeys.dev/keys-installed` pod condition that pods declaring it as a readiness
// gate need before the kubelet reports them Ready: True once the pod's agent acknowledged the
// current ring, False when it falls behind. Written through pods/status with a strategic merge
// patch keyed by condition type, so the kubelet's own conditions are left alone.
import { CoreV1Api, type KubeConfig, type V1Pod, type V1PodCondition } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { READINESS_GATE_CONDITION_TYPE } from '../../api/names.ts';
import { ConflictError, KubeApiError, toKubeError } from '../runtime/api-errors.ts';
import { DEFAULT_KUBE_TIMEOUT_MS, strategicMergePatch, withTimeout } from '../runtime/request-options.ts';

export interface PodConditionUpdate {
  status: boolean;
  /** CamelCase reason, e.g. 'RingInstalled', 'RingBehind', 'AgentUnreachable'. */
  reason: string;
  message: string;
}

/** Whether the pod lists `conditionType` (default ticketkeys.dev/keys-installed) among its readiness gates. */
export function declaresReadinessGate(pod: V1Pod, conditionType: string = READINESS_GATE_CONDITION_TYPE): boolean {
  return (pod.spec?.readinessGates ?? []).some((g) => g.conditionType === conditionType);
}

/** The pod's `conditionType` condition (default ticketkeys.dev/keys-installed), if set. */
export function readinessGateCondition(pod: V1Pod, conditionType: string = READINESS_GATE_CONDITION_TYPE): V1PodCondition | undefined {
  return (pod.status?.conditions ?? []).find((c) => c.type === conditionType);
}

export class PodReadinessGate {
  readonly conditionType: string;
  private readonly api: CoreV1Api;
  private readonly clock: Clock;
  private readonly timeoutMs: number;

  /** requestTimeoutMs bounds each patch (default DEFAULT_KUBE_TIMEOUT_MS). */
  constructor(options: { kubeConfig: KubeConfig; clock?: Clock; conditionType?: string; requestTimeoutMs?: number }) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
    this.conditionType = options.conditionType ?? READINESS_GATE_CONDITION_TYPE;
  }

  /** Whether the pod lists our condition among its readiness gates. */
  declaredBy(pod: V1Pod): boolean {
    return declaresReadinessGate(pod, this.conditionType);
  }

  /** Our condition on the pod, if set. */
  conditionOf(pod: V1Pod): V1PodCondition | undefined {
    return readinessGateCondition(pod, this.conditionType);
  }

  /**
   * Sets the condition on `pod` (as last seen, e.g. from the informer cache). Returns the
   * patched Pod, or undefined when the condition already said exactly this (no request).
   * lastTransitionTime changes only when the status flips. The patch carries the pod's uid, so
   * a pod replaced under the same name is not marked: that throws ConflictError.
   */
  async setCondition(pod: V1Pod, update: PodConditionUpdate): Promise<V1Pod | undefined> {
    const status = update.status ? 'True' : 'False';
    const current = this.conditionOf(pod);
    if (current && current.status === status && current.reason === update.reason && current.message === update.message) return undefined;
    const transitioned = !current || current.status !== status;
    const condition: Record<string, unknown> = { type: this.conditionType, status, reason: update.reason, message: update.message };
    if (transitioned) condition.lastTransitionTime = new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    try {
      return await this.api.patchNamespacedPodStatus(
        { namespace, name, body: { metadata: { uid: pod.metadata?.uid }, status: { conditions: [condition] } } },
        strategicMergePatch(withTimeout(this.timeoutMs)),
      );
    } catch (err) {
      const e = toKubeError(err, `pod ${namespace}/${name}`);
      // The uid we sent differs from the stored one: the API server reports "metadata.uid:
      // field is immutable" (422). For us that is a failed precondition: the pod was replaced.
      if (e instanceof KubeApiError && e.status === 422 && e.message.includes('metadata.uid')) {
        throw new ConflictError(`pod ${namespace}/${name} was replaced (uid ${pod.metadata?.uid ?? '?'} is gone)`);
      }
      throw e;
    }
  }
}
