// Observe: which pods this set keeps (selector, minus pods an older set also selects), what
// each agent says ATS holds (screened: a generation never issued is that pod's error), its
// configuration, ticket counters and session-sharing status, and which pods drifted off the
// current ring.
import type { V1Pod } from '@kubernetes/client-node';
import type { GetRingResponse } from '../../agent/protocol.ts';
import type { DefaultedTicketKeySetSpec, TicketKeySet } from '../../api/index.ts';
import { ackBound, ringFingerprintOf, ringMaterial, screenAcks, type EventAction, type PodAck, type PodObservation, type RotationState } from '../../core/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { PodTlsCounters, TicketKeyMetrics } from '../metrics.ts';
import type { PodSelectorIndex } from '../runtime/pod-selector-index.ts';
import type { AckHistory } from './ack-history.ts';
import type { AgentPort } from './agents.ts';
import { configReportOf, type PodConfigReport } from './config-rollout.ts';
import { observePods } from './observe.ts';
import { targetPods, type TargetPod } from './pods.ts';
import { recordedGeneration } from './secret-loss.ts';
import { findSelectorConflicts, type SelectorConflicts } from './selector-conflicts.ts';
import { reportedSessionSharing, sessionSharingOf, type PodSessionSharing } from './session-sharing.ts';
import { tlsCountersOf } from './tls-report.ts';

export interface ObserveInput {
  readonly tks: TicketKeySet;
  readonly spec: DefaultedTicketKeySetSpec;
  readonly state: RotationState;
  readonly podIndex: PodSelectorIndex;
  readonly sets: readonly TicketKeySet[];
  readonly agents: AgentPort;
  readonly concurrency: number;
  /** What each pod was last seen holding (this set's). */
  readonly history: AckHistory;
  /** Pods whose last ATS ticket counters were refused (warned once per pod); updated here. */
  readonly badTls: Set<string>;
  /** Pods whose last session-sharing report was refused (warned once per pod); updated here. */
  readonly badSharing: Set<string>;
  readonly metrics: TicketKeyMetrics | undefined;
  readonly record: (e: EventAction, related?: V1Pod) => Promise<void>;
  readonly log: Logger;
}

export interface Observed {
  readonly conflicts: SelectorConflicts;
  readonly targets: readonly TargetPod[];
  readonly byName: ReadonlyMap<string, TargetPod>;
  /** The highest generation status records as issued. */
  readonly issuedGeneration: number;
  readonly observations: readonly PodObservation[];
  /** Reports are input: a generation above what the operator issued is that pod's error. */
  readonly configReports: ReadonlyMap<string, PodConfigReport>;
  /** ATS ticket counters by pod, for the pods whose agent answered (undefined: none or refused). */
  readonly tlsReports: ReadonlyMap<string, PodTlsCounters | undefined>;
  /** Session-sharing reports by pod, for the pods whose agent answered (undefined: none, or refused). */
  readonly sharingReports: ReadonlyMap<string, PodSessionSharing | undefined>;
  /** The current ring, as an ack; undefined before the first key. */
  readonly current: PodAck | undefined;
  /** Pods that held the current ring and now report something else. */
  readonly drifted: ReadonlySet<string>;
}

export async function observeSet(i: ObserveInput): Promise<Observed> {
  const { tks, spec, state, history, badTls, badSharing, log } = i;
  // Pods another, older TicketKeySet also selects are left to that set (no push war).
  const selected = i.podIndex.select(tks.metadata.namespace ?? '', spec.selector);
  const conflicts = findSelectorConflicts(tks, i.sets, selected, (t) => t.spec?.selector);
  const targets = targetPods(selected, spec.selector).filter((t) => !conflicts.ceded.has(t.name));
  const byName = new Map(targets.map((t) => [t.name, t]));
  const issuedGeneration = recordedGeneration(tks.status);
  const configReports = new Map<string, PodConfigReport>();
  const tlsReports = new Map<string, PodTlsCounters | undefined>();
  const sharingReports = new Map<string, PodSessionSharing | undefined>();
  const onRing = (pod: TargetPod, ring: GetRingResponse): void => {
    configReports.set(pod.name, configReportOf(ring));
    const tls = tlsCountersOf(ring.tls);
    if (tls && 'error' in tls) {
      tlsReports.set(pod.name, undefined);
      if (!badTls.has(pod.uid)) log.warn('pod reports ATS ticket counters the operator refuses', { pod: pod.name, error: tls.error });
      badTls.add(pod.uid);
    } else {
      tlsReports.set(pod.name, tls);
      badTls.delete(pod.uid);
    }
    // One pod's bad report is that pod's alone: refused (the pod is left alone), warned once.
    const sharing = sessionSharingOf(reportedSessionSharing(ring));
    if (sharing && 'error' in sharing) {
      sharingReports.set(pod.name, undefined);
      if (!badSharing.has(pod.uid)) log.warn('pod reports a session-sharing status the operator refuses', { pod: pod.name, error: sharing.error });
      badSharing.add(pod.uid);
    } else {
      sharingReports.set(pod.name, sharing);
      badSharing.delete(pod.uid);
    }
  };
  const observations = screenAcks(
    await observePods(targets, i.agents, spec.agent.port, i.concurrency, (uid) => history.get(uid), onRing),
    ackBound(state.keys.length > 0, state.keys.length > 0 ? state.generation : Math.max(state.generation, issuedGeneration)),
  );
  for (const uid of badTls) if (!targets.some((t) => t.uid === uid)) badTls.delete(uid);
  for (const uid of badSharing) if (!targets.some((t) => t.uid === uid)) badSharing.delete(uid);
  for (const obs of observations) {
    if (obs.rejectedAck && history.markRejected(obs.uid, obs.rejectedAck)) {
      i.metrics?.recordRejectedReport();
      log.warn('pod reports a generation the operator never issued', { pod: obs.name, generation: obs.rejectedAck.generation });
      await i.record({ kind: 'event', type: 'Warning', reason: 'GenerationOutOfRange', message: `pod ${obs.name}: ${obs.error ?? ''}` }, byName.get(obs.name)?.pod);
    }
  }

  // Drift: pods that held the current ring and now report something else.
  const drifted = new Set<string>();
  const current = currentAck(state);
  if (current) {
    for (const obs of observations) {
      if (!obs.terminating && obs.error === undefined && history.isDrift(obs.uid, current, obs.acked)) drifted.add(obs.name);
    }
  }
  return { conflicts, targets, byName, issuedGeneration, observations, configReports, tlsReports, sharingReports, current, drifted };
}

/** The current ring as an ack: what a pod holding it reports. */
export function currentAck(state: RotationState): PodAck | undefined {
  if (state.keys.length === 0) return undefined;
  return { generation: state.generation, ringFingerprint: ringFingerprintOf(ringMaterial(state)) };
}
