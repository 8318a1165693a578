// What a pod reports is input, not truth. An agent (or any process in its pod, through the
// plugin message) can claim any generation; believing a generation the operator never issued
// would make every later ring "older" than that pod's claim (the set re-issues above it forever,
// or stops). So acknowledgements are screened before anything uses them: a generation above the
// bound is that pod's error, named in status, and nothing else changes for the other pods.
//
// The bound: with a ring in the Secret, the operator's own generation (persist happens before
// any push, so no pod can legitimately hold more). Without one (first ring, or a ring lost with
// its Secret), pods may hold rings of an earlier life of the set: a small margin above the last
// generation the operator recorded lets the new ring start above those, and no further.
import type { PodObservation } from './observations.ts';

/** How far above the recorded generation a pod may be when the operator holds no ring. */
export const GENERATION_ADOPTION_MARGIN = 64;

/** The highest generation a pod may report. */
export function ackBound(hasRing: boolean, issuedGeneration: number): number {
  return hasRing ? issuedGeneration : issuedGeneration + GENERATION_ADOPTION_MARGIN;
}

/** Pods whose report exceeds `bound` lose their ack and carry an error instead. Idempotent. */
export function screenAcks(pods: readonly PodObservation[], bound: number): PodObservation[] {
  return pods.map((p) => {
    if (!p.acked || p.acked.generation <= bound) return p;
    const { acked, ackStale: _stale, ...rest } = p;
    return {
      ...rest,
      rejectedAck: acked,
      error: `agent reports generation ${acked.generation}, above the highest generation issued (${bound}); its report is ignored`,
    };
  });
}
