// Publish: what the rounds left, made visible. Pod readiness-gate conditions, the set's
// conditions (availability note, SelectorConflict, ConfigConsistent, kstatus), the status
// subresource (written only when it changed, with the resumption and session-sharing
// summaries), and the per-set metrics.
import {
  ANNOTATION_FLUX_REQUESTED_AT,
  MAX_REQUESTED_AT_LENGTH,
  type ResumptionStatus,
  type SessionSharingSummary,
  type TicketKeySet,
  type TicketKeySetStatus,
} from '../../api/index.ts';
import { CONDITION_SELECTOR_CONFLICT } from '../../api/names.ts';
import { decideGates, namePods, type Condition, type PodObservation, type RotationState } from '../../core/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { PodReadinessGate } from '../kube/pod-readiness.ts';
import type { TicketKeySetStatusWriter } from '../kube/status-writer.ts';
import type { Clock } from '../runtime/clock.ts';
import { withKstatusConditions, type StalledCause } from './kstatus.ts';
import { currentAck } from './observe-set.ts';
import type { TargetPod } from './pods.ts';
import type { SelectorConflicts } from './selector-conflicts.ts';
import { sameStatus, withTransitionTimes } from './status.ts';

/**
 * The keys-installed condition of pods declaring the gate (core/readiness.ts decides: fail
 * open, newcomers kept out, at most maxUnavailable serving pods taken out).
 */
export async function updateReadinessGates(
  readiness: Pick<PodReadinessGate, 'setCondition'>,
  targets: readonly TargetPod[],
  observations: readonly PodObservation[],
  state: RotationState,
  maxUnavailable: number,
  log: Logger,
): Promise<{ heldByBudget: readonly string[] }> {
  const byName = new Map(observations.map((o) => [o.name, o]));
  const live = targets.filter((t) => !t.terminating);
  const decisions = decideGates(
    live.flatMap((t) => {
      const observation = byName.get(t.name);
      return observation ? [{ observation, declaresGate: t.declaresGate, gateTrue: t.gateTrue }] : [];
    }),
    currentAck(state),
    maxUnavailable,
    live.filter((t) => !t.ready).length,
  );
  const pods = new Map(targets.map((t) => [t.name, t.pod]));
  for (const d of decisions.updates) {
    const pod = pods.get(d.pod);
    if (!pod) continue;
    try {
      await readiness.setCondition(pod, { status: d.status, reason: d.reason, message: d.message });
    } catch (err) {
      // The pod changed or went away; its next event brings us back.
      log.warn('could not set the keys-installed condition', { pod: d.pod, err });
    }
  }
  if (decisions.heldByBudget.length > 0) log.warn('pods on a ring the fleet cannot decrypt stay in service: maxUnavailable reached', { pods: decisions.heldByBudget });
  return decisions;
}

/** The set's conditions: the core's, with the availability note, SelectorConflict, ConfigConsistent and kstatus's. */
export function setConditions(
  core: readonly Condition[],
  heldByBudget: readonly string[],
  conflicts: SelectorConflicts,
  configCondition: Condition | undefined,
  targetCount: number,
): Condition[] {
  const conditions = [...withBudgetNote(core, heldByBudget), selectorConflictCondition(conflicts.ceded), ...(configCondition ? [configCondition] : [])];
  // Every selected pod is left to an older set: only a change of a selector (or a deletion) helps.
  const stalled: StalledCause | undefined =
    targetCount === 0 && conflicts.ceded.size > 0 ? { reason: 'SelectorConflict', message: selectorConflictCondition(conflicts.ceded).message } : undefined;
  return withKstatusConditions(conditions, stalled);
}

/** Status when the reconcile cannot act (invalid spec, unreadable Secret): Stalled until the user changes something. */
export async function writeBlockedStatus(
  status: Pick<TicketKeySetStatusWriter, 'patchStatus'>,
  clock: Clock,
  tks: TicketKeySet,
  reason: string,
  message: string,
  log: Logger,
): Promise<void> {
  const conditions = withKstatusConditions(
    [
      { type: 'Ready', status: 'False', reason, message },
      { type: 'Progressing', status: 'False', reason, message },
      { type: 'Degraded', status: 'True', reason, message },
    ],
    { reason, message },
  );
  const now = clock.now();
  const previous = tks.status?.conditions;
  const generation = tks.metadata.generation ?? 0;
  const next = withTransitionTimes(conditions, previous, generation, now);
  const handled = handledReconcile(tks, log);
  if (sameStatus(next, previous) && handled.lastHandledReconcileAt === tks.status?.lastHandledReconcileAt && tks.status?.observedGeneration === generation) return;
  await status.patchStatus({ namespace: tks.metadata.namespace ?? '', name: tks.metadata.name ?? '' }, { conditions: next, ...handled }, generation);
}

/**
 * Flux's reconcile request, acknowledged once this reconcile ran (Flux compares the two strings).
 * An absent annotation keeps the last acknowledged value; an oversized one is not acknowledged.
 */
export function handledReconcile(tks: TicketKeySet, log: Logger): { lastHandledReconcileAt?: string } {
  const requested = tks.metadata.annotations?.[ANNOTATION_FLUX_REQUESTED_AT];
  const previous = tks.status?.lastHandledReconcileAt;
  if (requested !== undefined && requested.length <= MAX_REQUESTED_AT_LENGTH) return { lastHandledReconcileAt: requested };
  if (requested !== undefined && requested !== previous) log.warn(`${ANNOTATION_FLUX_REQUESTED_AT} is longer than ${MAX_REQUESTED_AT_LENGTH} characters; not acknowledged`);
  return previous !== undefined ? { lastHandledReconcileAt: previous } : {};
}

/** Degraded says so when the availability bound kept pods in service that should be out. */
function withBudgetNote(conditions: readonly Condition[], held: readonly string[]): Condition[] {
  if (held.length === 0) return [...conditions];
  const note = `availability.maxUnavailable reached: ${namePods(held)} hold a ring the other pods cannot decrypt but stay in service`;
  return conditions.map((c) =>
    c.type !== 'Degraded' ? c : c.status === 'True' ? { ...c, message: `${c.message}; ${note}` } : { type: 'Degraded', status: 'True', reason: 'DisruptionBudgetReached', message: note },
  );
}

/** The SelectorConflict condition: True while an older set keeps pods this set also selects. */
function selectorConflictCondition(ceded: ReadonlyMap<string, string>): Condition {
  if (ceded.size === 0) return { type: CONDITION_SELECTOR_CONFLICT, status: 'False', reason: 'NoConflict', message: 'no selected pod is selected by another TicketKeySet' };
  const byOwner = new Map<string, string[]>();
  for (const [pod, owner] of ceded) byOwner.set(owner, [...(byOwner.get(owner) ?? []), pod]);
  const parts = [...byOwner].sort().map(([owner, pods]) => `${namePods(pods.sort())} (kept by the older TicketKeySet ${owner})`);
  return { type: CONDITION_SELECTOR_CONFLICT, status: 'True', reason: 'SelectorConflict', message: `pods also selected by an older TicketKeySet are left to it: ${parts.join('; ')}` };
}

/** The status with status.pods.resumption set to `r` and status.pods.sessionSharing to `sharing` (each absent when undefined). */
export function withPodSummaries(status: TicketKeySetStatus, r: ResumptionStatus | undefined, sharing?: SessionSharingSummary): TicketKeySetStatus {
  if (!status.pods) return status;
  const { resumption: _r, sessionSharing: _s, ...pods } = status.pods;
  return { ...status, pods: { ...pods, ...(r ? { resumption: r } : {}), ...(sharing ? { sessionSharing: sharing } : {}) } };
}
