// Observations for step(): each target pod's agent is asked what ATS holds (GET /v1/ring),
// with bounded concurrency and the agent client's per-request timeout. Terminating pods are
// not asked (they never block and are never pushed to).
import type { GetRingResponse } from '../../agent/protocol.ts';
import type { PodAck, PodObservation } from '../../core/index.ts';
import { describeError } from '../../observability/describe-error.ts';
import type { AgentPort } from './agents.ts';
import { mapBounded } from './fan-out.ts';
import { agentAddress, type TargetPod } from './pods.ts';

const FINGERPRINT = /^[0-9a-f]{16}$/;

/**
 * What ATS holds according to the agent: generation 0 means nothing was pushed since ATS
 * started (a restart lost the keys), which is no acknowledgement at all.
 */
export function ackFromRing(ring: GetRingResponse): PodAck | undefined {
  const { generation, ringFingerprint } = ring.ats;
  if (!(generation > 0) || !FINGERPRINT.test(ringFingerprint)) return undefined;
  return { generation, ringFingerprint };
}

export function observationOf(pod: TargetPod, result: { ack?: PodAck | undefined; error?: string | undefined; readFailed?: boolean }): PodObservation {
  return {
    name: pod.name,
    uid: pod.uid,
    ready: pod.ready,
    terminating: pod.terminating,
    ...(result.ack ? { acked: result.ack } : {}),
    ...(result.readFailed ? { readFailed: true } : {}),
    ...(result.ack && result.readFailed ? { ackStale: true } : {}),
    ...(result.error !== undefined ? { error: result.error } : {}),
  };
}

/**
 * A pod whose agent cannot be read keeps the ring it was last seen holding (`lastAck`, from the
 * per-pod ack cache), marked stale, together with the error: the promotion gate may count that
 * real acknowledgement, but status never reports it as observed convergence. A pod last seen on
 * an older ring stays a laggard.
 */
export async function observePods(
  pods: readonly TargetPod[],
  agents: AgentPort,
  port: number,
  concurrency: number,
  lastAck: (uid: string) => PodAck | undefined = () => undefined,
  /** Sees each answer in full (the optional configuration fields). */
  onRing: (pod: TargetPod, ring: GetRingResponse) => void = () => undefined,
): Promise<PodObservation[]> {
  return mapBounded(pods, concurrency, async (pod) => {
    if (pod.terminating) return observationOf(pod, {});
    try {
      const ring = await agents.getRing(agentAddress(pod, port));
      onRing(pod, ring);
      return observationOf(pod, { ack: ackFromRing(ring) });
    } catch (err) {
      return observationOf(pod, { ack: lastAck(pod.uid), error: describeError(err), readFailed: true });
    }
  });
}
