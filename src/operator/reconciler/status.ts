// TicketKeySet status from one reconcile: the key ring (fingerprints and times only, from
// keyRingStatus), conditions with metav1 semantics (lastTransitionTime kept while the status
// does not change), and the pods, bounded with laggards first. Pure, and deterministic for
// unchanged inputs: a reconcile that changed nothing writes nothing (a status write is an
// update event that would enqueue the TicketKeySet again).
import { MAX_POD_STATUS_ITEMS, type Condition as ApiCondition, type PodStatus, type TicketKeySetStatus } from '../../api/index.ts';
import {
  convergence,
  holdsRing,
  keyRingStatus,
  observedConverged,
  ringFingerprintOf,
  ringMaterial,
  type Condition,
  type PodObservation,
  type RotationState,
} from '../../core/index.ts';
import type { ScheduleDecision } from '../../core/schedule/index.ts';
import type { PodConfigReport } from './config-rollout.ts';

export interface StatusInputs {
  state: RotationState;
  /** From the last step's conditions action. */
  conditions: readonly Condition[];
  /** Target pods (terminating ones are left out of the status). */
  pods: readonly PodObservation[];
  previous: TicketKeySetStatus | undefined;
  /** metadata.generation of the TicketKeySet acted on. */
  observedGeneration: number;
  secretName: string;
  suspend: boolean;
  now: number;
  /** What each pod's agent reported about its mounted configuration (agents with --config-dir). */
  configReports?: ReadonlyMap<string, PodConfigReport>;
  /** The reconcile.fluxcd.io/requestedAt value this reconcile handled (status.lastHandledReconcileAt). */
  lastHandledReconcileAt?: string;
  /** With rotation.schedule: the schedule's decision at `now` (scheduledRotation, rotationWindow). */
  schedule?: { decision: ScheduleDecision; hasWindows: boolean };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Conditions with lastTransitionTime carried over from `previous` when the status is unchanged. */
export function withTransitionTimes(
  conditions: readonly Condition[],
  previous: readonly ApiCondition[] | undefined,
  observedGeneration: number,
  now: number,
): ApiCondition[] {
  return conditions.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : iso(now);
    return { type: c.type, status: c.status, observedGeneration, lastTransitionTime, reason: c.reason, message: truncate(c.message, 32768) };
  });
}

/**
 * Per-pod entries: pods that do not hold the current ring first (those are what an operator
 * looks for), then the converged ones, each group by name; at most MAX_POD_STATUS_ITEMS.
 * lastAckTime is when the pod was first seen holding the ring it reports now.
 */
export function podStatusItems(
  pods: readonly PodObservation[],
  generation: number,
  ringFingerprint: string | undefined,
  previous: readonly PodStatus[] | undefined,
  now: number,
  configReports: ReadonlyMap<string, PodConfigReport> = new Map(),
): PodStatus[] {
  const byName = (a: PodObservation, b: PodObservation) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const live = pods.filter((p) => !p.terminating);
  // Pods not observed holding it now (behind, or unreachable and last seen holding it) come first.
  const isCurrent = (p: PodObservation) => holdsRing(p, generation, ringFingerprint) && !p.ackStale;
  const behind = live.filter((p) => !isCurrent(p)).sort(byName);
  const current = live.filter(isCurrent).sort(byName);
  return [...behind, ...current].slice(0, MAX_POD_STATUS_ITEMS).map((p) => {
    const item: PodStatus = { name: p.name };
    if (p.acked) {
      item.generation = p.acked.generation;
      item.ringFingerprint = p.acked.ringFingerprint;
      const old = previous?.find((o) => o.name === p.name);
      item.lastAckTime =
        old && old.generation === p.acked.generation && old.ringFingerprint === p.acked.ringFingerprint && old.lastAckTime ? old.lastAckTime : iso(now);
    }
    if (p.error !== undefined) item.error = truncate(p.error, 1024);
    const report = configReports.get(p.name);
    if (report?.configHash !== undefined) item.configHash = report.configHash;
    if (report?.lastReloadAt !== undefined) item.lastReloadTime = iso(report.lastReloadAt);
    return item;
  });
}

export function buildStatus(input: StatusInputs): TicketKeySetStatus {
  const { state } = input;
  const ring = keyRingStatus(state);
  const ringFp = state.keys.length > 0 ? ringFingerprintOf(ringMaterial(state)) : undefined;
  const conv = convergence(input.pods, state.generation, ringFp);
  const total = conv.converged.length + conv.pending.length;
  // Only pods whose agent answered in this reconcile count as converged.
  const converged = observedConverged(conv).length;
  const status: TicketKeySetStatus = {
    observedGeneration: input.observedGeneration,
    conditions: withTransitionTimes(input.conditions, input.previous?.conditions, input.observedGeneration, input.now),
    keyGeneration: ring.keyGeneration,
    phase: ring.phase,
    retiredKeys: ring.retiredKeys,
    pods: {
      total,
      converged,
      summary: `${converged}/${total}`,
      items: podStatusItems(input.pods, state.generation, ringFp, input.previous?.pods?.items, input.now, input.configReports),
    },
    secretName: input.secretName,
  };
  if (input.lastHandledReconcileAt !== undefined) status.lastHandledReconcileAt = input.lastHandledReconcileAt;
  if (ring.activeKey) status.activeKey = ring.activeKey;
  if (ring.stagedKey) status.stagedKey = ring.stagedKey;
  if (ring.lastRotationTime) status.lastRotationTime = ring.lastRotationTime;
  // The API documents nextRotationTime as absent while rotation is suspended.
  if (ring.nextRotationTime && !input.suspend) status.nextRotationTime = ring.nextRotationTime;
  if (input.schedule) Object.assign(status, scheduleStatus(input.schedule.decision, input.schedule.hasWindows, input.suspend));
  return status;
}

/** Optional top-level fields a merge patch must delete (null) when the new status lacks them. */
const CLEARABLE = ['activeKey', 'stagedKey', 'lastRotationTime', 'nextRotationTime', 'scheduledRotation', 'rotationWindow'] as const;

/** status.scheduledRotation and status.rotationWindow from the schedule's decision. */
export function scheduleStatus(d: ScheduleDecision, hasWindows: boolean, suspend: boolean): Pick<TicketKeySetStatus, 'scheduledRotation' | 'rotationWindow'> {
  const at = (t: number | undefined) => (t === undefined ? 'never' : iso(t));
  const slot = d.slot === undefined ? {} : { slot: iso(d.slot) };
  let scheduledRotation: NonNullable<TicketKeySetStatus['scheduledRotation']>;
  if (d.reason === 'Due') {
    scheduledRotation = { state: 'Due', ...slot, message: `the slot at ${at(d.slot)} is due${suspend ? ' (rotation.suspend is true: not rotated)' : ''}` };
  } else if (d.reason === 'WaitingForWindow') {
    scheduledRotation = { state: 'WaitingForWindow', ...slot, message: `the slot at ${at(d.slot)} is due outside every maintenance window; it waits for the window opening at ${at(d.nextRotationTime)}` };
  } else if (d.reason === 'MissedDeadline') {
    scheduledRotation = { state: 'Skipped', ...slot, message: `the slot at ${at(d.slot)} missed rotation.startingDeadline and is skipped; next rotation at ${at(d.nextRotationTime)}` };
  } else {
    scheduledRotation = { state: 'Waiting', ...slot, message: `next scheduled rotation at ${at(d.nextRotationTime)}${suspend ? ' (rotation.suspend is true)' : ''}` };
  }
  const out: Pick<TicketKeySetStatus, 'scheduledRotation' | 'rotationWindow'> = { scheduledRotation };
  if (hasWindows) {
    out.rotationWindow = { open: d.window.open };
    if (d.window.opensAt !== undefined) out.rotationWindow.opensAt = iso(d.window.opensAt);
    if (d.window.closesAt !== undefined) out.rotationWindow.closesAt = iso(d.window.closesAt);
  }
  return out;
}

export function statusMergePatch(status: TicketKeySetStatus): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...status };
  for (const f of CLEARABLE) if (status[f] === undefined) patch[f] = null;
  // A merge patch merges nested objects: a summary no pod reports any more is deleted explicitly.
  if (status.pods && (status.pods.resumption === undefined || status.pods.sessionSharing === undefined)) {
    patch.pods = { ...status.pods, ...(status.pods.resumption === undefined ? { resumption: null } : {}), ...(status.pods.sessionSharing === undefined ? { sessionSharing: null } : {}) };
  }
  return patch;
}

/** Whether two statuses say the same (key order and absent-vs-undefined ignored). */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([, x]) => x !== undefined && x !== null)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return value;
  });
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
