// Status conditions from the state after a step and the pods measured against its ring.
// Messages name pods and fingerprints, never key bytes.
import { CONDITION_DEGRADED, CONDITION_PROGRESSING, CONDITION_READY, DEFAULT_POD_LABEL_SELECTOR } from '../api/names.ts';
import type { Condition, ConditionsAction } from './actions.ts';
import { observedConverged, type Convergence, type PodObservation } from './observations.ts';
import type { RotationPolicy } from './policy.ts';
import { activeKey, stagedKey, type RotationState } from './state.ts';

/** How many pod names a message lists before "and N more". */
export const MAX_NAMED_PODS = 10;
const MAX_ERROR_CHARS = 200;
/** The operator's default pod label selector, named where no pod is seen. */
export const AGENT_LABEL_HINT = DEFAULT_POD_LABEL_SELECTOR;

export interface ConditionInputs {
  readonly state: RotationState;
  readonly policy: RotationPolicy;
  readonly convergence: Convergence;
  /** A rotation is due but the ring is full (waiting for a retired key to expire). */
  readonly rotationDeferred: boolean;
  readonly rotateNowPending: boolean;
  /** fileFallback: the staged key is not promoted before this time (ms), whatever the acknowledgements. */
  readonly fileRingHeldUntil?: number | undefined;
}

export function namePods(names: readonly string[]): string {
  if (names.length <= MAX_NAMED_PODS) return names.join(', ');
  return `${names.slice(0, MAX_NAMED_PODS).join(', ')} and ${names.length - MAX_NAMED_PODS} more`;
}

function describeErrors(pods: readonly PodObservation[]): string {
  const shown = pods.slice(0, MAX_NAMED_PODS).map((p) => {
    const e = p.error ?? '';
    return `${p.name}: ${e.length > MAX_ERROR_CHARS ? `${e.slice(0, MAX_ERROR_CHARS)}…` : e}`;
  });
  const more = pods.length > MAX_NAMED_PODS ? `; and ${pods.length - MAX_NAMED_PODS} more` : '';
  return shown.join('; ') + more;
}

const iso = (ms: number | undefined): string => (ms === undefined ? 'never' : new Date(ms).toISOString());

export function buildConditions(input: ConditionInputs): ConditionsAction {
  const { state, policy, convergence: conv } = input;
  const active = activeKey(state);
  const gen = state.generation;
  const activeFp = active?.material.fingerprint ?? 'none';
  // Only what an agent answered in this reconcile counts as observed; a pod last seen holding
  // the ring but unreachable now is "unverified", never reported as converged.
  const observed = observedConverged(conv);
  const unverified = conv.converged
    .filter((p) => p.ackStale)
    .map((p) => p.name)
    .sort();
  const readyTotal = conv.converged.filter((p) => p.ready).length + conv.laggards.length;
  const readyAcked = observed.filter((p) => p.ready).length;
  const waitingFor =
    (conv.laggards.length > 0 ? `; waiting for: ${namePods(conv.laggards)}` : '') +
    (unverified.length > 0 ? `; unreachable now (last seen holding it): ${namePods(unverified)}` : '') +
    (observed.length === 0 && conv.laggards.length === 0 ? '; no agent has acknowledged it yet' : '');

  let ready: Condition;
  const total = conv.converged.length + conv.pending.length;
  if (state.phase === 'Stable' && conv.laggards.length === 0 && unverified.length === 0 && observed.length > 0) {
    ready = {
      type: CONDITION_READY,
      status: 'True',
      reason: 'Converged',
      message:
        readyTotal === 0
          ? `no ready target pods; ${observed.length} pod(s) hold generation ${gen} (active key ${activeFp})`
          : `all ${readyTotal} ready pods hold generation ${gen} (active key ${activeFp})`,
    };
  } else {
    ready = {
      type: CONDITION_READY,
      status: 'False',
      reason:
        state.phase !== 'Stable'
          ? state.phase
          : total === 0
            ? 'NoPods'
            : conv.laggards.length === 0 && unverified.length > 0
              ? 'PodsUnreachable'
              : 'PodsNotConverged',
      message:
        total === 0
          ? // The operator sees only pods with its pod label (a pod without it is invisible, not "not matching").
            `no Running pod matches the selector among the pods the operator watches (only pods labelled ${AGENT_LABEL_HINT} unless --pod-label-selector says otherwise); generation ${gen} (active key ${activeFp}) waits for one`
          : `${readyAcked}/${readyTotal} ready pods observed holding generation ${gen}${waitingFor}`,
    };
  }

  let progressing: Condition;
  const staged = stagedKey(state);
  if (state.phase === 'Staging') {
    progressing = {
      type: CONDITION_PROGRESSING,
      status: 'True',
      reason: 'Staging',
      message:
        `key ${staged?.material.fingerprint ?? 'none'} staged at generation ${gen}; ` +
        `${readyAcked}/${readyTotal} ready pods acknowledged${waitingFor}` +
        (input.fileRingHeldUntil === undefined
          ? ''
          : `; promoted no earlier than ${new Date(input.fileRingHeldUntil).toISOString()}, when every mounted ticket.key holds it (fileFallback.propagationDelay)`),
    };
  } else if (state.phase === 'Promoting' || state.phase === 'Revoking') {
    progressing = {
      type: CONDITION_PROGRESSING,
      status: 'True',
      reason: state.phase,
      message: `installing generation ${gen} (active key ${activeFp}); ${readyAcked}/${readyTotal} ready pods hold it${waitingFor}`,
    };
  } else if (conv.pending.length > 0) {
    progressing = {
      type: CONDITION_PROGRESSING,
      status: 'True',
      reason: 'Converging',
      message: `pushing generation ${gen} to: ${namePods(conv.pending.map((p) => p.name).sort())}`,
    };
  } else if (policy.suspend) {
    progressing = {
      type: CONDITION_PROGRESSING,
      status: 'False',
      reason: 'Suspended',
      message: `rotation is suspended${input.rotateNowPending ? '; a rotate-now request waits until it is resumed' : ''}`,
    };
  } else if (input.rotationDeferred) {
    progressing = {
      type: CONDITION_PROGRESSING,
      status: 'False',
      reason: 'RotationDeferred',
      message: `the ring holds ${state.keys.length} keys (the maximum); the next rotation waits until a retired key expires`,
    };
  } else {
    progressing = {
      type: CONDITION_PROGRESSING,
      status: 'False',
      reason: 'Idle',
      message: `next rotation at ${iso(state.nextRotationTime)}`,
    };
  }

  let degraded: Condition;
  const failing = conv.pending.filter((p) => p.error !== undefined).sort((a, b) => (a.name < b.name ? -1 : 1));
  const untrusted = failing.filter((p) => p.rejectedAck !== undefined);
  if (state.regeneratedAt !== undefined) {
    degraded = {
      type: CONDITION_DEGRADED,
      status: 'True',
      reason: 'SecretRegenerated',
      message:
        `the owned Secret was ${state.regeneratedBecause === 'SecretDeleted' ? 'deleted' : state.regeneratedBecause === 'SecretCorrupt' ? 'unreadable' : 'tampered with'} ` +
        `(${state.regeneratedBecause}) at ${iso(state.regeneratedAt)}; its keys were not reused and generation ${gen} (key ${activeFp}) replaces them` +
        (conv.laggards.length > 0 ? `; waiting for: ${namePods(conv.laggards)}` : ''),
    };
  } else if (untrusted.length > 0 && state.phaseTimedOutAt === undefined) {
    degraded = {
      type: CONDITION_DEGRADED,
      status: 'True',
      reason: 'GenerationOutOfRange',
      message: `pods report generations the operator never issued (their reports are ignored, the other pods are unaffected): ${describeErrors(untrusted)}`,
    };
  } else if (state.phaseTimedOutAt !== undefined) {
    const staging = state.phase === 'Staging';
    degraded = {
      type: CONDITION_DEGRADED,
      status: 'True',
      reason: staging ? 'PromotionTimedOut' : 'ConvergenceTimedOut',
      message:
        (staging
          ? `staged key ${staged?.material.fingerprint ?? 'none'} not acknowledged within ${policy.promotionTimeoutMs / 1000}s ` +
            `by: ${namePods(conv.laggards)}; key ${activeFp} stays active, retrying with backoff`
          : `generation ${gen} not installed within ${policy.promotionTimeoutMs / 1000}s by: ${namePods(conv.laggards)}`) +
        (failing.length > 0 ? `; errors: ${describeErrors(failing)}` : ''),
    };
  } else if (failing.length > 0) {
    degraded = { type: CONDITION_DEGRADED, status: 'True', reason: 'PushFailed', message: describeErrors(failing) };
  } else {
    degraded = { type: CONDITION_DEGRADED, status: 'False', reason: 'AsExpected', message: 'no failures' };
  }

  return {
    kind: 'conditions',
    conditions: [ready, progressing, degraded],
    laggards: conv.laggards,
    pods: { total, converged: observed.length },
  };
}
