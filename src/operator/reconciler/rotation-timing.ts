// How long the two halves of a rotation took, as this operator process saw them:
//   stage:   the new key persisted as staged → every ready target pod acknowledged the staged ring;
//   promote: the promotion persisted        → every ready target pod acknowledged the promoted ring.
// "Every ready target pod acknowledged" is the promotion gate (and the completion test) of the
// core: no Ready, non-terminating pod lacks the ring, and at least one agent answered with it
// in this reconcile (core/step.ts gateOpen).
// The start times live in this process's memory only: an operator that restarts (or takes over
// leadership) in the middle of a rotation never saw its start, so it observes nothing for it
// rather than a figure that leaves out the time before it started. A start whose key is no
// longer staged (stage) or active (promote) when the end would be seen is dropped: a revoke, a
// newer rotation or a promotion that did not wait (Immediate) ended it some other way.
import {
  activeKey,
  convergence,
  observedConverged,
  ringFingerprintOf,
  ringMaterial,
  stagedKey,
  type PodObservation,
  type RotationState,
} from '../../core/index.ts';

interface Started {
  /** Fingerprint of the staged (stage) or newly active (promote) key. */
  key: string;
  at: number;
}

export interface RotationDurations {
  stageSeconds?: number;
  promoteSeconds?: number;
}

export class RotationTiming {
  #stage: Started | undefined;
  #promote: Started | undefined;

  /** A state was persisted at `at` (ms) over `prev`: starts the clock of a new staged or promoted key. */
  persisted(prev: RotationState, next: RotationState, at: number): void {
    const staged = stagedKey(next);
    if (next.phase === 'Staging' && staged && stagedKey(prev)?.material.fingerprint !== staged.material.fingerprint) {
      this.#stage = { key: staged.material.fingerprint, at };
    }
    const active = activeKey(next);
    const prevActive = activeKey(prev);
    // A promotion replaces an active key (a first ring or a regenerated one is no rotation).
    if (next.phase === 'Promoting' && active && prevActive && prevActive.material.fingerprint !== active.material.fingerprint) {
      this.#promote = { key: active.material.fingerprint, at };
    }
  }

  /**
   * What the pods hold now (`state` is the persisted state): returns the durations that ended
   * here, each at most once.
   */
  observe(state: RotationState, pods: readonly PodObservation[], now: number): RotationDurations {
    const out: RotationDurations = {};
    const staged = stagedKey(state);
    const active = activeKey(state);
    if (this.#stage) {
      if (state.phase !== 'Staging' || staged?.material.fingerprint !== this.#stage.key) this.#stage = undefined;
      else if (allAcknowledged(state, pods)) {
        out.stageSeconds = seconds(now - this.#stage.at);
        this.#stage = undefined;
      }
    }
    if (this.#promote) {
      if (state.phase !== 'Promoting' || active?.material.fingerprint !== this.#promote.key) this.#promote = undefined;
      else if (allAcknowledged(state, pods)) {
        out.promoteSeconds = seconds(now - this.#promote.at);
        this.#promote = undefined;
      }
    }
    return out;
  }

  /** Whether a start is remembered (tests). */
  get pending(): { stage: boolean; promote: boolean } {
    return { stage: this.#stage !== undefined, promote: this.#promote !== undefined };
  }
}

function allAcknowledged(state: RotationState, pods: readonly PodObservation[]): boolean {
  if (state.keys.length === 0) return false;
  const conv = convergence(pods, state.generation, ringFingerprintOf(ringMaterial(state)));
  return conv.laggards.length === 0 && observedConverged(conv).length > 0;
}

/** A clock that stepped back never yields a negative duration. */
function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}
