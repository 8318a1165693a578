// What the reconciler observed about the target pods, and how they stand against a ring.

/** What a pod's agent reported ATS holds (no key bytes: generation and ring fingerprint). */
export interface PodAck {
  readonly generation: number;
  readonly ringFingerprint: string;
}

export interface PodObservation {
  readonly name: string;
  readonly uid: string;
  /** The pod's Ready condition. Pods that are not Ready never block the gate. */
  readonly ready: boolean;
  /** deletionTimestamp set: never blocks, never pushed to. */
  readonly terminating: boolean;
  /** Omitted when the agent reported nothing (new pod, ATS restarted, unreachable). */
  readonly acked?: PodAck | undefined;
  /**
   * `acked` was not read in this reconcile: the agent could not be reached, and this is the ring
   * the pod was last seen holding. Safe for the promotion gate (that pod did acknowledge that
   * exact ring), never reported as observed convergence.
   */
  readonly ackStale?: boolean | undefined;
  /** The agent could not be read in this reconcile (unreachable, timed out, or ATS down): what the pod holds was not observed. */
  readonly readFailed?: boolean | undefined;
  /** What the pod reported but the operator refused as input (a generation it never issued). */
  readonly rejectedAck?: PodAck | undefined;
  /** The last push or read failure for this pod (shown in conditions, triggers backoff). */
  readonly error?: string | undefined;
}

/** Why the owned Secret's keys could not be used and a new ring replaces them. */
export type SecretLossReason = 'SecretDeleted' | 'SecretTampered' | 'SecretCorrupt';

export interface Observations {
  readonly pods: readonly PodObservation[];
  /**
   * The highest generation the operator is known to have issued, from records other than the
   * Secret (the TicketKeySet status). It bounds what pods may report and is the floor of a
   * regenerated ring's generation. Default: the state's own generation.
   */
  readonly issuedGeneration?: number | undefined;
  /** Set when the Secret was lost (deleted, tampered with, unreadable): the state is empty and a new ring must replace the old one. */
  readonly secretLoss?: { readonly reason: SecretLossReason; readonly detail: string } | undefined;
}

export interface Convergence {
  /** Non-terminating pods holding exactly the ring (observed now, or last seen holding it: see ackStale). */
  readonly converged: readonly PodObservation[];
  /** Non-terminating pods not holding it (they get pushes). */
  readonly pending: readonly PodObservation[];
  /** Ready, non-terminating pods not holding it: these block the gate (sorted by name). */
  readonly laggards: readonly string[];
}

export function holdsRing(pod: PodObservation, generation: number, ringFingerprint: string | undefined): boolean {
  return pod.acked !== undefined && pod.acked.generation === generation && pod.acked.ringFingerprint === ringFingerprint;
}

/** Classifies pods against the ring (generation, fingerprint). */
export function convergence(
  pods: readonly PodObservation[],
  generation: number,
  ringFingerprint: string | undefined,
): Convergence {
  const converged: PodObservation[] = [];
  const pending: PodObservation[] = [];
  for (const pod of pods) {
    if (pod.terminating) continue;
    (holdsRing(pod, generation, ringFingerprint) ? converged : pending).push(pod);
  }
  const laggards = pending
    .filter((p) => p.ready)
    .map((p) => p.name)
    .sort();
  return { converged, pending, laggards };
}

/** Converged pods whose agent answered in this reconcile: what status may claim. */
export function observedConverged(conv: Convergence): readonly PodObservation[] {
  return conv.converged.filter((p) => !p.ackStale);
}

/** The highest generation any pod reports: a new ring must be newer, or agents refuse it. */
export function maxAckedGeneration(pods: readonly PodObservation[]): number {
  return pods.reduce((max, p) => Math.max(max, p.acked?.generation ?? 0), 0);
}
