// The reconcile shell of a TicketKeySet: the one place where the pure rotation core meets the
// cluster. Level-triggered and idempotent, as controller-runtime reconcilers are:
//   load spec → policy; load the Secret → state (the source of truth);
//   list target pods from the informer cache and ask each agent what ATS holds → observations;
//   step() → actions, executed in order (execute.ts); the pushes' answers become the next
//   observations, so one reconcile carries a rotation as far as it can go (stage → all acked →
//   promote → all acked → Stable) in a few steps;
//   then pod readiness-gate conditions, status, metrics, and requeueAfter from the schedule.
// A conflict on the Secret stops the reconcile (another writer won): it runs again from the
// stored state. Key bytes never reach logs, Events, status or errors: only fingerprints.
import type { V1Pod } from '@kubernetes/client-node';
import type { GetRingResponse } from '../../agent/protocol.ts';
import {
  ANNOTATION_FLUX_REQUESTED_AT,
  ANNOTATION_REVOKE,
  ANNOTATION_REVOKE_HANDLED,
  ANNOTATION_ROTATE_NOW,
  ANNOTATION_ROTATE_NOW_HANDLED,
  MAX_REQUESTED_AT_LENGTH,
  secretName,
  withSpecDefaults,
  type DefaultedTicketKeySetSpec,
  type ResumptionStatus,
  type TicketKeySet,
  type TicketKeySetStatus,
} from '../../api/index.ts';
import {
  ackBound,
  activeKey,
  decideGates,
  decodeSecret,
  encodeSecret,
  initialState,
  MAX_REQUEUE_MS,
  PolicyError,
  resolvePolicy,
  ringFingerprintOf,
  ringMaterial,
  screenAcks,
  SecretFormatError,
  step,
  zeroize,
  namePods,
  type Condition,
  type EventAction,
  type PodAck,
  type PodObservation,
  type RotationPolicy,
  type RotationState,
} from '../../core/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import type { EventSource } from '../runtime/event-source.ts';
import { AlreadyExistsError, ConflictError } from '../runtime/api-errors.ts';
import type { EventRecorder } from '../kube/event-recorder.ts';
import type { PodReadinessGate } from '../kube/pod-readiness.ts';
import type { SecretStore } from '../kube/secret-store.ts';
import type { TicketKeySetStatusWriter } from '../kube/status-writer.ts';
import type { TicketKeyMetrics } from '../metrics.ts';
import { AckHistory } from './ack-history.ts';
import type { AgentPort } from './agents.ts';
import { executeActions, type ExecutionPorts, type PushResult } from './execute.ts';
import type { FaultHook } from './fault.ts';
import { observePods } from './observe.ts';
import { agentAddress, targetPods, type TargetPod } from './pods.ts';
import { findSelectorConflicts } from './selector-conflicts.ts';
import { PodSelectorIndex } from '../runtime/pod-selector-index.ts';
import { recordedGeneration, secretCorrupt, secretMissing, secretTampered, type SecretLoss } from './secret-loss.ts';
import { buildStatus, sameStatus, statusMergePatch, withTransitionTimes } from './status.ts';
import { resolveIntOrPercent } from '../../api/schema-kit.ts';
import { CONDITION_CONFIG_CONSISTENT, CONDITION_SELECTOR_CONFLICT } from '../../api/names.ts';
import type { ConfigMapPort } from '../kube/config-map-reader.ts';
import { ConfigConsistencyChecker } from './config-consistency.ts';
import { configReportOf, ConfigRollout, CONFIG_ROLLOUT_BOUND_MS, type PodConfigReport } from './config-rollout.ts';
import { formatDuration } from '../../core/duration.ts';
import { withKstatusConditions, type StalledCause } from './kstatus.ts';
import { RotationTiming } from './rotation-timing.ts';
import { ResumptionWrites, resumptionSummary, tlsCountersOf } from './tls-report.ts';
import type { PodTlsCounters } from '../metrics.ts';
import { decideScheduledRotation } from '../../core/schedule/index.ts';

export interface ReconcilerOptions {
  ticketKeySets: EventSource<TicketKeySet>;
  pods: EventSource<V1Pod>;
  secrets: Pick<SecretStore, 'get' | 'create' | 'update'>;
  status: Pick<TicketKeySetStatusWriter, 'patchStatus'>;
  events: Pick<EventRecorder, 'record'>;
  readiness: Pick<PodReadinessGate, 'setCondition'>;
  agents: AgentPort;
  metrics?: TicketKeyMetrics;
  clock: Clock;
  fault?: FaultHook;
  /** Agents talked to at once (reads, pushes, flushes). Default 16. */
  concurrency?: number;
  /** step→execute rounds per reconcile while they make progress. Default 8. */
  maxStepsPerReconcile?: number;
  /** Look at every TicketKeySet at least this often (drift detection). Default 60 s. */
  resyncMs?: number;
  /** ConfigConsistent names pods still on an older configuration this long after it changed. Default CONFIG_ROLLOUT_BOUND_MS. */
  configRolloutBoundMs?: number;
  /** Reads spec.atsConfig.configMapRef for the ConfigConsistent condition; without it, no such condition. */
  configMaps?: ConfigMapPort;
}

/** CamelCase verbs for events.k8s.io `action`, by the core's event reasons. */
const EVENT_ACTIONS: Record<string, string> = {
  KeyCreated: 'Create',
  KeyStaged: 'Stage',
  KeyPromoted: 'Promote',
  KeyRetired: 'Retire',
  KeyDestroyed: 'Destroy',
  KeysRevoked: 'Revoke',
  RevokeComplete: 'Revoke',
  RotationComplete: 'Promote',
  PromotionTimedOut: 'Promote',
  ConvergenceTimedOut: 'Push',
  DriftRepaired: 'Push',
  SecretRegenerated: 'Create',
  GenerationOutOfRange: 'Observe',
  SelectorConflict: 'Observe',
  ConfigConsistent: 'Observe',
  ReloadDriftCorrected: 'Push',
};

export class TicketKeySetReconciler {
  private readonly o: ReconcilerOptions;
  /** The pods each set's selector selects, without a scan of every pod per reconcile. */
  private readonly podIndex: PodSelectorIndex;
  /** Per TicketKeySet (two sets selecting one pod must not mix their rings), per pod uid. */
  private readonly histories = new Map<string, AckHistory>();
  /** Per TicketKeySet: when its ConfigMap's current content was first seen. */
  private readonly rollouts = new Map<string, ConfigRollout>();
  /** Per TicketKeySet: when this process persisted the staged / promoted key now in flight. */
  private readonly timings = new Map<string, RotationTiming>();
  /** Rate limit of status.pods.resumption writes (tls-report.ts). */
  private readonly resumptionWrites = new ResumptionWrites();
  /** Per TicketKeySet: pods whose last ATS ticket counters were refused (warned once per pod). */
  private readonly badTlsReports = new Map<string, Set<string>>();
  private readonly concurrency: number;
  private readonly maxSteps: number;
  private readonly resyncMs: number;
  private readonly configCheck: ConfigConsistencyChecker | undefined;

  constructor(options: ReconcilerOptions) {
    this.o = options;
    this.concurrency = options.concurrency ?? 16;
    this.maxSteps = options.maxStepsPerReconcile ?? 8;
    this.resyncMs = options.resyncMs ?? 60_000;
    this.configCheck = options.configMaps && new ConfigConsistencyChecker(options.configMaps);
    this.podIndex = new PodSelectorIndex(options.pods);
  }

  /** The Controller's Reconciler. */
  readonly reconcile = async (_key: string, ctx: ReconcileContext): Promise<ReconcileResult> => {
    const { namespace, name } = ctx;
    // (The controller's `key` field is masked by the log redaction, so name the object again.)
    const log = ctx.logger.child({ ticketKeySet: `${namespace}/${name}` });
    const tks = this.o.ticketKeySets.get(name, namespace);
    if (!tks || tks.metadata.deletionTimestamp) {
      // Gone: the Secret goes with it (owner reference); only our memory and metrics need forgetting.
      this.histories.delete(`${namespace}/${name}`);
      this.rollouts.delete(`${namespace}/${name}`);
      this.timings.delete(`${namespace}/${name}`);
      this.resumptionWrites.forget(`${namespace}/${name}`);
      this.badTlsReports.delete(`${namespace}/${name}`);
      this.o.metrics?.forgetTicketKeySet({ namespace, name });
      this.configCheck?.retain(this.o.ticketKeySets.list().flatMap((t) => (t.spec?.atsConfig?.configMapRef?.name ? [`${t.metadata.namespace ?? ''}/${t.spec.atsConfig.configMapRef.name}`] : [])));
      return {};
    }
    let history = this.histories.get(`${namespace}/${name}`);
    if (!history) this.histories.set(`${namespace}/${name}`, (history = new AckHistory()));
    let timing = this.timings.get(`${namespace}/${name}`);
    if (!timing) this.timings.set(`${namespace}/${name}`, (timing = new RotationTiming()));
    const ref = { namespace, name };
    const spec = withSpecDefaults(tks.spec);
    const annotations = tks.metadata.annotations ?? {};
    let policy: RotationPolicy;
    try {
      policy = resolvePolicy({
        interval: spec.rotation.interval,
        schedule: spec.rotation.schedule,
        timeZone: spec.rotation.timeZone,
        windows: spec.rotation.windows,
        startingDeadline: spec.rotation.startingDeadline,
        now: this.o.clock.now(),
        ticketLifetime: spec.ticketLifetime,
        promotionPolicy: spec.promotion.policy,
        promotionTimeout: spec.promotion.timeout,
        suspend: spec.rotation.suspend,
        flushOnRevoke: spec.sessionCache.flushOnRevoke,
        fileFallbackEnabled: spec.fileFallback.enabled,
        fileFallbackPropagationDelay: spec.fileFallback.propagationDelay,
        rotateNowToken: annotations[ANNOTATION_ROTATE_NOW],
        revokeToken: annotations[ANNOTATION_REVOKE],
      });
    } catch (err) {
      // A spec the API server let through but the core refuses: nothing to do until it changes.
      await this.writeBlockedStatus(tks, err instanceof PolicyError ? err.reason : 'InvalidSpec', err instanceof Error ? err.message : String(err), log);
      return {};
    }

    const secretRef = { namespace, name: secretName(name) };
    let stored = await this.o.secrets.get(secretRef);
    let state: RotationState = initialState();
    let secretLoss: SecretLoss | undefined;
    if (!stored) {
      secretLoss = secretMissing(secretRef.name, tks.status);
    } else {
      try {
        state = decodeSecret({ data: base64Map(stored.data), annotations: stored.annotations });
        secretLoss = secretTampered(secretRef.name, state, tks.status);
        if (secretLoss) {
          // Bytes we cannot vouch for are never pushed: zero them, start a new ring above them.
          for (const k of state.keys) k.material.destroy();
          state = initialState();
        }
      } catch (err) {
        if (!(err instanceof SecretFormatError)) throw err;
        if (err.code === 'unknown-version') {
          // Written by a newer operator (a rollback of the operator): never overwrite it.
          log.error('owned Secret has a format this operator does not read; not touching it', { secret: secretRef.name, reason: err.message });
          await this.o.events.record(tks, { type: 'Warning', reason: 'SecretUnusable', action: 'Load', note: err.message });
          await this.writeBlockedStatus(tks, 'SecretUnusable', err.message, log);
          return { requeueAfterMs: 60_000 };
        }
        secretLoss = secretCorrupt(secretRef.name, err.message);
      }
    }
    if (secretLoss) log.error('owned Secret lost; regenerating the ring', { secret: secretRef.name, reason: secretLoss.reason, detail: secretLoss.detail });

    // Pods another, older TicketKeySet also selects are left to that set (no push war).
    const selected = this.podIndex.select(namespace, spec.selector);
    const conflicts = findSelectorConflicts(tks, this.o.ticketKeySets.list(namespace), selected, (t) => t.spec?.selector);
    const targets = targetPods(selected, spec.selector).filter((t) => !conflicts.ceded.has(t.name));
    const byName = new Map(targets.map((t) => [t.name, t]));
    const port = spec.agent.port;
    const issuedGeneration = recordedGeneration(tks.status);
    // Reports are input: a generation above what the operator issued is that pod's error.
    const configReports = new Map<string, PodConfigReport>();
    // ATS ticket counters by pod, for the pods whose agent answered (undefined: none or refused).
    const tlsReports = new Map<string, PodTlsCounters | undefined>();
    const badTls = this.badTlsReports.get(`${namespace}/${name}`) ?? new Set<string>();
    const onRing = (pod: TargetPod, ring: GetRingResponse): void => {
      configReports.set(pod.name, configReportOf(ring));
      const tls = tlsCountersOf(ring.tls);
      if (tls && 'error' in tls) {
        tlsReports.set(pod.name, undefined);
        if (!badTls.has(pod.uid)) log.warn('pod reports ATS ticket counters the operator refuses', { pod: pod.name, error: tls.error });
        badTls.add(pod.uid);
      } else {
        tlsReports.set(pod.name, tls);
        badTls.delete(pod.uid);
      }
    };
    let observations = screenAcks(
      await observePods(targets, this.o.agents, port, this.concurrency, (uid) => history.get(uid), onRing),
      ackBound(state.keys.length > 0, state.keys.length > 0 ? state.generation : Math.max(state.generation, issuedGeneration)),
    );
    for (const uid of badTls) if (!targets.some((t) => t.uid === uid)) badTls.delete(uid);
    if (badTls.size > 0) this.badTlsReports.set(`${namespace}/${name}`, badTls);
    else this.badTlsReports.delete(`${namespace}/${name}`);
    for (const obs of observations) {
      if (obs.rejectedAck && history.markRejected(obs.uid, obs.rejectedAck)) {
        this.o.metrics?.recordRejectedReport();
        log.warn('pod reports a generation the operator never issued', { pod: obs.name, generation: obs.rejectedAck.generation });
        await this.recordEvent(tks, { kind: 'event', type: 'Warning', reason: 'GenerationOutOfRange', message: `pod ${obs.name}: ${obs.error ?? ''}` }, byName.get(obs.name)?.pod);
      }
    }

    // Drift: pods that held the current ring and now report something else.
    const drifted = new Set<string>();
    const current = currentAck(state);
    if (current) {
      for (const obs of observations) {
        if (!obs.terminating && obs.error === undefined && history.isDrift(obs.uid, current, obs.acked)) drifted.add(obs.name);
      }
    }

    const ports: ExecutionPorts = {
      now: () => this.o.clock.now(),
      persist: async (next) => {
        const payload = encodeSecret(next);
        const data: Record<string, Buffer> = {};
        for (const [k, v] of Object.entries(payload.data)) data[k] = Buffer.from(v, 'base64');
        const content = {
          data,
          annotations: {
            ...payload.annotations,
            [ANNOTATION_ROTATE_NOW_HANDLED]: next.handledRotateNowToken ?? null,
            [ANNOTATION_REVOKE_HANDLED]: next.handledRevokeToken ?? null,
          },
        };
        try {
          stored = stored
            ? await this.o.secrets.update(stored, content)
            : await this.o.secrets.create(secretRef, { name, uid: tks.metadata.uid ?? '' }, content);
        } finally {
          zeroize(...Object.values(data));
        }
        timing.persisted(state, next, this.o.clock.now());
        log.info('persisted ticket-key state', { generation: next.generation, phase: next.phase, fingerprints: next.keys.map((k) => `${k.material.fingerprint}:${k.state}`) });
      },
      push: async (podName, request) => {
        const pod = byName.get(podName);
        if (!pod) throw new Error(`pod ${podName} is no longer a target`);
        const res = await this.o.agents.putRing(agentAddress(pod, port), request);
        return { generation: res.generation, ringFingerprint: res.ringFingerprint };
      },
      flushSessionCache: async (podName) => {
        const pod = byName.get(podName);
        if (pod) await this.o.agents.flushSessionCache(agentAddress(pod, port));
      },
      event: async (e) => {
        await this.recordEvent(tks, e);
        if (e.reason === 'RotationComplete') this.o.metrics?.recordRotation('success');
        if (e.reason === 'PromotionTimedOut') this.o.metrics?.recordRotation('timeout');
      },
      pushed: (pod, result, seconds, err) => {
        this.o.metrics?.recordPush(pushMetricResult(result, err), seconds);
        if ('error' in result) log.warn('push failed', { pod, error: result.error });
        else log.debug('push acknowledged', { pod, generation: result.ack.generation, ringFingerprint: result.ack.ringFingerprint });
      },
      ...(this.o.fault ? { fault: this.o.fault } : {}),
    };

    const observeDurations = (): void => {
      const d = timing.observe(state, observations, this.o.clock.now());
      if (d.stageSeconds !== undefined) this.o.metrics?.recordStageDuration(ref, d.stageSeconds);
      if (d.promoteSeconds !== undefined) this.o.metrics?.recordPromoteDuration(ref, d.promoteSeconds);
    };
    // What the agents answered before any step: a ring in flight may already be everywhere.
    observeDurations();

    let conditions: readonly Condition[] = [];
    let requeueAfterMs = MAX_REQUEUE_MS;
    let rounds = 0;
    for (;;) {
      const result = step(state, { pods: observations, issuedGeneration, ...(secretLoss ? { secretLoss } : {}) }, policy, this.o.clock.now());
      const outcome = await executeActions(state, result.actions, ports, { concurrency: this.concurrency });
      if (outcome.persistError !== undefined) {
        const err = outcome.persistError;
        if (err instanceof ConflictError || err instanceof AlreadyExistsError) {
          // Someone else wrote the Secret (another replica, a user): start over from it.
          log.info('Secret changed under us; reconciling again from the stored state', { secret: secretRef.name });
          return { requeue: true };
        }
        throw err;
      }
      state = result.state;
      if (outcome.persisted) secretLoss = undefined; // the regenerated ring is the record now
      observations = observations.map((o) => applyPush(o, outcome.pushes.get(o.name)));
      observeDurations();
      for (const [pod, message] of outcome.flushErrors) log.warn('session cache flush failed', { pod, error: message });
      for (const podName of [...drifted]) {
        const r = outcome.pushes.get(podName);
        if (r && 'ack' in r) {
          drifted.delete(podName);
          const pod = byName.get(podName);
          const reloadAt = configReports.get(podName)?.lastReloadAt;
          const ackAt = Date.parse(tks.status?.pods?.items?.find((p) => p.name === podName)?.lastAckTime ?? '');
          // The agent saw ATS reload its configuration after the pod last acknowledged the ring.
          const afterReload = reloadAt !== undefined && (!Number.isFinite(ackAt) || reloadAt > ackAt);
          await this.recordEvent(
            tks,
            afterReload
              ? { kind: 'event', type: 'Warning', reason: 'ReloadDriftCorrected', message: `pod ${podName} no longer held generation ${current?.generation} after ATS reloaded its configuration at ${new Date(reloadAt).toISOString()}; re-pushed generation ${r.ack.generation}` }
              : { kind: 'event', type: 'Warning', reason: 'DriftRepaired', message: `pod ${podName} no longer held generation ${current?.generation} (ATS restarted or reloaded its keys); re-pushed generation ${r.ack.generation}` },
            pod?.pod,
          );
        }
      }
      conditions = outcome.conditions?.conditions ?? conditions;
      requeueAfterMs = outcome.requeueAfterMs ?? requeueAfterMs;
      const progressed = outcome.persisted || [...outcome.pushes.values()].some((r) => 'ack' in r);
      if (!progressed) break;
      if (++rounds >= this.maxSteps) {
        requeueAfterMs = 1; // more to do: come back at once, through the queue (fairness)
        break;
      }
    }

    // Remember what each pod was last seen holding (read back or pushed), forget pods that are gone.
    for (const obs of observations) if (obs.acked && obs.error === undefined) history.set(obs.uid, obs.acked);
    history.retain(targets.map((t) => t.uid));

    const gates = await this.updateReadinessGates(targets, observations, state, resolveIntOrPercent(spec.availability.maxUnavailable, targets.length), log);
    // After the pushes: reading and judging the ATS configuration never delays or stops key delivery.
    const configCondition = await this.configConsistency(tks, spec, policy, configReports, log);
    conditions = [...withBudgetNote(conditions, gates.heldByBudget), selectorConflictCondition(conflicts.ceded), ...(configCondition ? [configCondition] : [])];
    // Every selected pod is left to an older set: only a change of a selector (or a deletion) helps.
    const stalled: StalledCause | undefined =
      targets.length === 0 && conflicts.ceded.size > 0 ? { reason: 'SelectorConflict', message: selectorConflictCondition(conflicts.ceded).message } : undefined;
    conditions = withKstatusConditions(conditions, stalled);

    const status = buildStatus({
      state,
      conditions,
      pods: observations,
      previous: tks.status,
      observedGeneration: tks.metadata.generation ?? 0,
      secretName: secretRef.name,
      suspend: policy.suspend,
      now: this.o.clock.now(),
      configReports,
      ...handledReconcile(tks, log),
      ...(policy.schedule && state.lastRotationTime !== undefined
        ? { schedule: { decision: decideScheduledRotation(policy.schedule, state.lastRotationTime, this.o.clock.now()), hasWindows: policy.schedule.windows.length > 0 } }
        : {}),
    });
    // status.pods.resumption: see ResumptionWrites (a moving counter alone writes at most once per resync period).
    const writtenResumption = tks.status?.pods?.resumption;
    const freshResumption = resumptionSummary(targets.filter((t) => !t.terminating).map((t) => tlsReports.get(t.name)));
    const resumption = this.resumptionWrites.choose(
      `${namespace}/${name}`,
      freshResumption,
      writtenResumption,
      sameStatus(withResumption(status, writtenResumption), tks.status),
      this.o.clock.now(),
      this.resyncMs,
    );
    if (status.pods) {
      if (resumption) status.pods.resumption = resumption;
      else delete status.pods.resumption;
    }
    if (!sameStatus(status, tks.status)) {
      const { observedGeneration, ...rest } = status;
      await this.o.status.patchStatus(ref, statusMergePatch(rest), observedGeneration ?? 0);
      if (!sameStatus(resumption, writtenResumption)) this.resumptionWrites.wrote(`${namespace}/${name}`, this.o.clock.now());
    }
    this.o.metrics?.observePodTls(
      ref,
      targets.filter((t) => !t.terminating).map((t) => t.name),
      tlsReports,
    );
    this.o.metrics?.observeTicketKeySet(ref, {
      ...(state.lastRotationTime !== undefined ? { lastRotationTime: state.lastRotationTime } : {}),
      ...(state.nextRotationTime !== undefined && !policy.suspend ? { nextRotationTime: state.nextRotationTime } : {}),
      ...(activeKey(state) ? { activeKeyCreatedAt: activeKey(state)!.createdAt } : {}),
      podsConverged: status.pods?.converged ?? 0,
      podsTotal: status.pods?.total ?? 0,
    });
    return { requeueAfterMs: Math.max(1, Math.min(requeueAfterMs, this.resyncMs)) };
  };

  /**
   * The keys-installed condition of pods declaring the gate (core/readiness.ts decides: fail
   * open, newcomers kept out, at most maxUnavailable serving pods taken out).
   */
  private async updateReadinessGates(
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
        await this.o.readiness.setCondition(pod, { status: d.status, reason: d.reason, message: d.message });
      } catch (err) {
        // The pod changed or went away; its next event brings us back.
        log.warn('could not set the keys-installed condition', { pod: d.pod, err });
      }
    }
    if (decisions.heldByBudget.length > 0) log.warn('pods on a ring the fleet cannot decrypt stay in service: maxUnavailable reached', { pods: decisions.heldByBudget });
    return decisions;
  }

  /**
   * ConfigConsistent, when spec.atsConfig.configMapRef is set (no condition otherwise), with an
   * Event on each change of reason: Warning while not consistent, Normal when back to Consistent.
   * A ConfigMap that cannot be read now (API error, timeout) keeps the last published condition.
   */
  private async configConsistency(
    tks: TicketKeySet,
    spec: DefaultedTicketKeySetSpec,
    policy: RotationPolicy,
    configReports: ReadonlyMap<string, PodConfigReport>,
    log: Logger,
  ): Promise<Condition | undefined> {
    const name = spec.atsConfig?.configMapRef?.name;
    if (!name || !this.configCheck) return undefined;
    const previous = tks.status?.conditions?.find((c) => c.type === CONDITION_CONFIG_CONSISTENT);
    let condition: Condition;
    try {
      const check = await this.configCheck.check({
        ref: { namespace: tks.metadata.namespace ?? '', name },
        ticketLifetimeMs: policy.ticketLifetimeMs,
        fileFallbackEnabled: spec.fileFallback.enabled,
      });
      condition = check.condition;
      if (check.configHash !== undefined) condition = this.withLatePods(tks, condition, check.configHash, configReports);
    } catch (err) {
      log.warn('could not read the referenced ConfigMap; keeping the last ConfigConsistent condition', { configMap: name, error: err instanceof Error ? err.message : String(err) });
      return previous ? { type: CONDITION_CONFIG_CONSISTENT, status: previous.status, reason: previous.reason, message: previous.message } : undefined;
    }
    const consistent = condition.status === 'True';
    if (previous?.reason !== condition.reason && (!consistent || previous)) {
      await this.recordEvent(tks, { kind: 'event', type: consistent ? 'Normal' : 'Warning', reason: consistent ? CONDITION_CONFIG_CONSISTENT : condition.reason, message: condition.message });
    }
    return condition;
  }

  /** Names, in the condition's message, the pods still on an older configuration past the bound. */
  private withLatePods(tks: TicketKeySet, condition: Condition, configHash: string, reports: ReadonlyMap<string, PodConfigReport>): Condition {
    const key = `${tks.metadata.namespace ?? ''}/${tks.metadata.name ?? ''}`;
    let rollout = this.rollouts.get(key);
    if (!rollout) this.rollouts.set(key, (rollout = new ConfigRollout()));
    const bound = this.o.configRolloutBoundMs ?? CONFIG_ROLLOUT_BOUND_MS;
    const late = rollout.latePods(configHash, reports, this.o.clock.now(), bound);
    if (late.length === 0) return condition;
    const note = `pods still on an older configuration ${formatDuration(bound)} after ${configHash.slice(0, 19)}… was first seen: ${namePods(late)}`;
    return { ...condition, message: `${condition.message}; ${note}` };
  }

  private async recordEvent(tks: TicketKeySet, e: EventAction, related?: V1Pod): Promise<void> {
    await this.o.events.record(tks, {
      type: e.type,
      reason: e.reason,
      action: EVENT_ACTIONS[e.reason] ?? 'Reconcile',
      note: e.message,
      ...(related?.metadata ? { related: { apiVersion: 'v1', kind: 'Pod', namespace: related.metadata.namespace, name: related.metadata.name, uid: related.metadata.uid } } : {}),
    });
  }

  /** Status when the reconcile cannot act (invalid spec, unreadable Secret): Stalled until the user changes something. */
  private async writeBlockedStatus(tks: TicketKeySet, reason: string, message: string, log: Logger): Promise<void> {
    const conditions = withKstatusConditions(
      [
        { type: 'Ready', status: 'False', reason, message },
        { type: 'Progressing', status: 'False', reason, message },
        { type: 'Degraded', status: 'True', reason, message },
      ],
      { reason, message },
    );
    const now = this.o.clock.now();
    const previous = tks.status?.conditions;
    const generation = tks.metadata.generation ?? 0;
    const next = withTransitionTimes(conditions, previous, generation, now);
    const handled = handledReconcile(tks, log);
    if (sameStatus(next, previous) && handled.lastHandledReconcileAt === tks.status?.lastHandledReconcileAt && tks.status?.observedGeneration === generation) return;
    await this.o.status.patchStatus({ namespace: tks.metadata.namespace ?? '', name: tks.metadata.name ?? '' }, { conditions: next, ...handled }, generation);
  }
}

/**
 * Flux's reconcile request, acknowledged once this reconcile ran (Flux compares the two strings).
 * An absent annotation keeps the last acknowledged value; an oversized one is not acknowledged.
 */
function handledReconcile(tks: TicketKeySet, log: Logger): { lastHandledReconcileAt?: string } {
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

/** The status with status.pods.resumption set to `r` (absent when undefined). */
function withResumption(status: TicketKeySetStatus, r: ResumptionStatus | undefined): TicketKeySetStatus {
  if (!status.pods) return status;
  const { resumption: _drop, ...pods } = status.pods;
  return { ...status, pods: r ? { ...pods, resumption: r } : pods };
}

function currentAck(state: RotationState): PodAck | undefined {
  if (state.keys.length === 0) return undefined;
  return { generation: state.generation, ringFingerprint: ringFingerprintOf(ringMaterial(state)) };
}

/** A pushed pod is observed with what its agent proved ATS holds, or with the push error. */
export function applyPush(o: PodObservation, r: PushResult | undefined): PodObservation {
  if (!r) return o;
  if ('ack' in r) return { name: o.name, uid: o.uid, ready: o.ready, terminating: o.terminating, acked: r.ack };
  return { ...o, error: r.error };
}

function pushMetricResult(r: PushResult, err: unknown): 'success' | 'error' | 'timeout' | 'rejected' {
  if ('ack' in r) return 'success';
  const e = err as { code?: unknown; status?: unknown } | undefined;
  if (e?.code === 'timeout') return 'timeout';
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return 'rejected';
  return 'error';
}

function base64Map(data: Record<string, Buffer>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = v.toString('base64');
  return out;
}

