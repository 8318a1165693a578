// Per-pod memory of the reconciler, keyed by pod uid (a pod recreated under the same name is a
// new pod): the last ring each pod was seen holding (read back or acknowledged by a push). It
// stands in for a pod whose agent cannot be read right now, and it tells drift (a pod that held the current
// ring now reports something else: ATS restarted, a config reload replaced the keys) from a pod
// that simply has not received a new ring yet. In memory only: after an operator restart the
// first observation seeds it again.
import type { PodAck } from '../../core/index.ts';

export class AckHistory {
  private readonly held = new Map<string, PodAck>();
  /** The last refused report per pod, so a lying pod makes one Event per new lie, not one per reconcile. */
  private readonly rejected = new Map<string, PodAck>();

  /** The ring the pod was last seen holding. */
  get(uid: string): PodAck | undefined {
    return this.held.get(uid);
  }

  set(uid: string, ack: PodAck): void {
    this.held.set(uid, { generation: ack.generation, ringFingerprint: ack.ringFingerprint });
    this.rejected.delete(uid);
  }

  /** Records a refused report; true when it differs from the last one refused for this pod. */
  markRejected(uid: string, ack: PodAck): boolean {
    if (sameAck(this.rejected.get(uid), ack)) return false;
    this.rejected.set(uid, { generation: ack.generation, ringFingerprint: ack.ringFingerprint });
    return true;
  }

  /** True when the pod held exactly `current` before and `observed` is something else. */
  isDrift(uid: string, current: PodAck, observed: PodAck | undefined): boolean {
    const before = this.held.get(uid);
    if (!before || !sameAck(before, current)) return false;
    return observed === undefined || !sameAck(observed, current);
  }

  /** Forgets pods that are gone (bounded memory). */
  retain(uids: Iterable<string>): void {
    const keep = new Set(uids);
    for (const uid of this.held.keys()) if (!keep.has(uid)) this.held.delete(uid);
    for (const uid of this.rejected.keys()) if (!keep.has(uid)) this.rejected.delete(uid);
  }
}

export function sameAck(a: PodAck | undefined, b: PodAck | undefined): boolean {
  return a !== undefined && b !== undefined && a.generation === b.generation && a.ringFingerprint === b.ringFingerprint;
}
