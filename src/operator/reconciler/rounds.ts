// Step/execute rounds: step() decides, executeActions() does, and the pushes' answers become
// the next round's observations, so one reconcile carries a rotation as far as it can go
// (stage → all acked → promote → all acked → Stable). A conflict on the Secret ends the
// reconcile (another writer won: it runs again from the stored state).
import type { V1Pod } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../api/index.ts';
import { step, type Condition, type EventAction, type PodAck, type PodObservation, type RotationPolicy, type RotationState } from '../../core/index.ts';
import type { Logger } from '../../observability/logger.ts';
import { AlreadyExistsError, ConflictError } from '../runtime/api-errors.ts';
import type { PodConfigReport } from './config-rollout.ts';
import { executeActions, type ExecutionPorts, type PushResult } from './execute.ts';
import type { TargetPod } from './pods.ts';
import type { SecretLoss } from './secret-loss.ts';

export interface RoundsInput {
  readonly tks: TicketKeySet;
  readonly policy: RotationPolicy;
  /** The state loaded from the Secret; `current` follows it through the rounds. */
  readonly state: RotationState;
  readonly secretLoss: SecretLoss | undefined;
  readonly observations: readonly PodObservation[];
  readonly issuedGeneration: number;
  readonly byName: ReadonlyMap<string, TargetPod>;
  readonly configReports: ReadonlyMap<string, PodConfigReport>;
  readonly current: PodAck | undefined;
  readonly drifted: ReadonlySet<string>;
  /** Built once the holder of the current state exists (the persist port reads it). */
  readonly ports: (current: () => RotationState) => ExecutionPorts;
  readonly now: () => number;
  readonly concurrency: number;
  readonly maxSteps: number;
  /** When nothing asks for sooner. */
  readonly requeueAfterMs: number;
  /** Called with the state and observations before the first round and after each. */
  readonly observed: (state: RotationState, observations: readonly PodObservation[]) => void;
  readonly record: (e: EventAction, related?: V1Pod) => Promise<void>;
  readonly log: Logger;
  readonly secretName: string;
}

export type RoundsOutcome =
  | { readonly conflict: true }
  | {
      readonly conflict?: false;
      readonly state: RotationState;
      readonly observations: readonly PodObservation[];
      readonly conditions: readonly Condition[];
      readonly requeueAfterMs: number;
    };

export async function runRounds(i: RoundsInput): Promise<RoundsOutcome> {
  const { log } = i;
  let state = i.state;
  let secretLoss = i.secretLoss;
  let observations = i.observations;
  const drifted = new Set(i.drifted);
  const ports = i.ports(() => state);
  // What the agents answered before any step: a ring in flight may already be everywhere.
  i.observed(state, observations);

  let conditions: readonly Condition[] = [];
  let requeueAfterMs = i.requeueAfterMs;
  let rounds = 0;
  for (;;) {
    const result = step(state, { pods: observations, issuedGeneration: i.issuedGeneration, ...(secretLoss ? { secretLoss } : {}) }, i.policy, i.now());
    const outcome = await executeActions(state, result.actions, ports, { concurrency: i.concurrency });
    if (outcome.persistError !== undefined) {
      const err = outcome.persistError;
      if (err instanceof ConflictError || err instanceof AlreadyExistsError) {
        // Someone else wrote the Secret (another replica, a user): start over from it.
        log.info('Secret changed under us; reconciling again from the stored state', { secret: i.secretName });
        return { conflict: true };
      }
      throw err;
    }
    state = result.state;
    if (outcome.persisted) secretLoss = undefined; // the regenerated ring is the record now
    observations = observations.map((o) => applyPush(o, outcome.pushes.get(o.name)));
    i.observed(state, observations);
    for (const [pod, message] of outcome.flushErrors) log.warn('session cache flush failed', { pod, error: message });
    for (const podName of [...drifted]) {
      const r = outcome.pushes.get(podName);
      if (r && 'ack' in r) {
        drifted.delete(podName);
        await i.record(driftEvent(i, podName, r.ack), i.byName.get(podName)?.pod);
      }
    }
    conditions = outcome.conditions?.conditions ?? conditions;
    requeueAfterMs = outcome.requeueAfterMs ?? requeueAfterMs;
    const progressed = outcome.persisted || [...outcome.pushes.values()].some((r) => 'ack' in r);
    if (!progressed) break;
    if (++rounds >= i.maxSteps) {
      requeueAfterMs = 1; // more to do: come back at once, through the queue (fairness)
      break;
    }
  }
  return { state, observations, conditions, requeueAfterMs };
}

/** A drifted pod acknowledged the re-push: ReloadDriftCorrected when ATS reloaded its configuration since its last ack. */
function driftEvent(i: RoundsInput, podName: string, ack: PodAck): EventAction {
  const reloadAt = i.configReports.get(podName)?.lastReloadAt;
  const ackAt = Date.parse(i.tks.status?.pods?.items?.find((p) => p.name === podName)?.lastAckTime ?? '');
  // The agent saw ATS reload its configuration after the pod last acknowledged the ring.
  const afterReload = reloadAt !== undefined && (!Number.isFinite(ackAt) || reloadAt > ackAt);
  return afterReload
    ? { kind: 'event', type: 'Warning', reason: 'ReloadDriftCorrected', message: `pod ${podName} no longer held generation ${i.current?.generation} after ATS reloaded its configuration at ${new Date(reloadAt).toISOString()}; re-pushed generation ${ack.generation}` }
    : { kind: 'event', type: 'Warning', reason: 'DriftRepaired', message: `pod ${podName} no longer held generation ${i.current?.generation} (ATS restarted or reloaded its keys); re-pushed generation ${ack.generation}` };
}

/** A pushed pod is observed with what its agent proved ATS holds, or with the push error. */
export function applyPush(o: PodObservation, r: PushResult | undefined): PodObservation {
  if (!r) return o;
  if ('ack' in r) return { name: o.name, uid: o.uid, ready: o.ready, terminating: o.terminating, acked: r.ack };
  return { ...o, error: r.error };
}
