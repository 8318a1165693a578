// What step() asks the shell to do: plain data, executed in the order given.
//
// Contract for the shell (the reconciler):
//   1. persist: write the state (optimistic concurrency). If it fails, STOP: execute nothing
//      after it and reconcile again later from the stored state. This is what makes "persist
//      before any push of a ring holding a new key" crash-safe.
//   2. push: send the ring to each named pod (bounded concurrency, per-pod timeout). Afterwards
//      every pushed pod must be observed either with `acked` = this ring or with `error` set;
//      a pod with neither is pushed again on the next step.
//   3. flushSessionCache: after the push to that pod succeeded.
//   4. destroyKeys: zero the named keys (KeyMaterial.destroy) once the persist succeeded.
//   5. event / conditions: record them (conditions carry no timestamps; the shell adds
//      lastTransitionTime and observedGeneration).
//   6. requeue: call step again after at most afterMs (sooner when observations change).
import type { KeyMaterial } from './key-material.ts';
import type { KeyState, RotationState } from './state.ts';
import type { ConfigReason } from './ats-config/consistency.ts';

export interface PersistAction {
  readonly kind: 'persist';
  readonly state: RotationState;
}

export interface PushKey {
  readonly material: KeyMaterial;
  readonly state: KeyState;
}

export interface PushAction {
  readonly kind: 'push';
  readonly generation: number;
  /** ringFingerprint (fingerprint.ts) of the ring bytes in push order: what an ack must report. */
  readonly ringFingerprint: string;
  /** Push order: ring[0] is the active key (encrypts), the rest decrypt only. */
  readonly ring: readonly PushKey[];
  /** Pod names, sorted. */
  readonly pods: readonly string[];
  /** Emergency revoke: replace every key and flush; still newer than anything the pod holds (never a rollback). */
  readonly revoke: boolean;
}

export interface FlushSessionCacheAction {
  readonly kind: 'flushSessionCache';
  readonly pods: readonly string[];
}

export interface DestroyKeysAction {
  readonly kind: 'destroyKeys';
  /** Keys no longer in the persisted state; their toJSON shows fingerprints only. */
  readonly keys: readonly KeyMaterial[];
}

/** Kubernetes Event type, Normal or Warning: src/contract/events.ts. */
export type EventType = import('../contract/events.ts').EventType;

/** Event reasons step() emits. */
export type CoreEventReason =
  | 'KeyCreated'
  | 'KeyStaged'
  | 'KeyPromoted'
  | 'KeyRetired'
  | 'KeyDestroyed'
  | 'KeysRevoked'
  | 'RevokeComplete'
  | 'RotationComplete'
  | 'PromotionTimedOut'
  | 'ConvergenceTimedOut'
  | 'SecretRegenerated';

/**
 * Event reasons the reconcile shell adds: drift repaired, reports refused, a Secret it must not
 * touch, advisory policy warnings, and the ConfigConsistent condition's reasons as it changes.
 */
export type ShellEventReason =
  | 'DriftRepaired'
  | 'ReloadDriftCorrected'
  | 'GenerationOutOfRange'
  | 'SecretUnusable'
  | 'PolicyWarning'
  | 'ConfigConsistent'
  | ConfigReason;

/** Every reason an Event of this operator carries (docs/api.md lists them). */
export type EventReason = CoreEventReason | ShellEventReason;

export interface EventAction {
  readonly kind: 'event';
  readonly type: EventType;
  readonly reason: EventReason;
  readonly message: string;
}

export type ConditionType = 'Ready' | 'Progressing' | 'Degraded' | 'SelectorConflict' | 'ConfigConsistent' | 'Reconciling' | 'Stalled';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  /** UpperCamelCase, as metav1.Condition requires. */
  readonly reason: string;
  readonly message: string;
}

export interface ConditionsAction {
  readonly kind: 'conditions';
  /** Always Ready, Progressing, Degraded in that order. */
  readonly conditions: readonly Condition[];
  /** Ready, non-terminating pods that do not hold the current ring (sorted). */
  readonly laggards: readonly string[];
  /** Non-terminating target pods, and how many of them were observed in this reconcile holding the current ring. */
  readonly pods: { readonly total: number; readonly converged: number };
}

export interface RequeueAction {
  readonly kind: 'requeue';
  readonly afterMs: number;
}

export type Action =
  | PersistAction
  | PushAction
  | FlushSessionCacheAction
  | DestroyKeysAction
  | EventAction
  | ConditionsAction
  | RequeueAction;

export interface StepResult {
  readonly state: RotationState;
  readonly actions: readonly Action[];
}
