// Which pods a TicketKeySet targets, as the reconciler sees them in the informer cache: Running
// pods with an IP, in the TicketKeySet's namespace, matching its selector. Pure.
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { DEFAULT_SERVICE_ACCOUNT } from '../../agent/identity.ts';
import { declaresReadinessGate, readinessGateCondition } from '../kube/pod-readiness.ts';
import { matchesLabelSelector } from '../runtime/label-selector.ts';
import type { AgentAddress } from './agents.ts';

export interface TargetPod {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  /** spec.serviceAccountName (default "default"): the workload identity its agent may present. */
  readonly serviceAccountName: string;
  /** Where the pod's agent listens (with spec.agent.port). */
  readonly ip: string;
  /** The pod's Ready condition is True. */
  readonly ready: boolean;
  /** deletionTimestamp set. */
  readonly terminating: boolean;
  /** The pod lists ticketkeys.dev/keys-installed among its readiness gates. */
  readonly declaresGate: boolean;
  /** Our keys-installed condition is True on the pod (it was let into service). */
  readonly gateTrue: boolean;
  /** The cached object (for pods/status patches and Event references). */
  readonly pod: V1Pod;
}

export function isPodReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * The pods a selector targets: Running with an IP (a pod without either has no agent to talk
 * to yet and does not count, as status.pods.total documents), sorted by name.
 */
export function targetPods(pods: readonly V1Pod[], selector: V1LabelSelector | undefined): TargetPod[] {
  const out: TargetPod[] = [];
  for (const pod of pods) {
    const ip = pod.status?.podIP;
    if (pod.status?.phase !== 'Running' || !ip) continue;
    if (!matchesLabelSelector(selector, pod.metadata?.labels)) continue;
    out.push({
      name: pod.metadata?.name ?? '',
      namespace: pod.metadata?.namespace ?? '',
      uid: pod.metadata?.uid ?? '',
      serviceAccountName: pod.spec?.serviceAccountName || DEFAULT_SERVICE_ACCOUNT,
      ip,
      ready: isPodReady(pod),
      terminating: pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null,
      declaresGate: declaresReadinessGate(pod),
      gateTrue: readinessGateCondition(pod)?.status === 'True',
      pod,
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Where the pod's agent listens and the identity its certificate must carry. */
export function agentAddress(pod: TargetPod, port: number): AgentAddress {
  return { ip: pod.ip, port, pod: { uid: pod.uid, namespace: pod.namespace, name: pod.name, serviceAccountName: pod.serviceAccountName } };
}

/** https://IP:port, with IPv6 addresses bracketed. */
export function agentBaseUrl(ip: string, port: number): string {
  return `https://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}
