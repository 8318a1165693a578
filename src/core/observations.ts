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
  /** The last push or read failure for this pod (shown in conditions, triggers backoff). */
  readonly error?: string | undefined;
}

export interface Observations {
  readonly pods: readonly PodObservation[];
}

export interface Convergence {
  /** Non-terminating pods holding exactly the ring. */
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

/** The highest generation any pod reports: a new ring must be newer, or agents refuse it. */
export function maxAckedGeneration(pods: readonly PodObservation[]): number {
  return pods.reduce((max, p) => Math.max(max, p.acked?.generation ?? 0), 0);
}
