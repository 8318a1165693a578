// The reconcile shell of a TicketKeySet: the one place where the pure rotation core meets the
// cluster. Level-triggered and idempotent, as controller-runtime reconcilers are. reconcile()
// reads top-down, one step per file:
//   load (load.ts)          spec → policy (its warnings as Events, once per generation);
//                           the owned Secret → state, the source of truth;
//   observe (observe-set.ts) target pods from the informer cache, what each agent says ATS
//                           holds (screened), configuration and TLS reports, drift;
//   rounds (rounds.ts)      step() → actions, executed in order (execute.ts, through the ports
//                           of execution-ports.ts); the pushes' answers become the next
//                           observations, so one reconcile carries a rotation as far as it can
//                           go (stage → all acked → promote → all acked → Stable);
//   share (session-sharing.ts) after the rounds: each pod's session-sharing config, sent
//                           where the hash its agent reports differs (never delays keys);
//   publish (publish.ts)    pod readiness-gate conditions, conditions, status, metrics, and
//                           requeueAfter from the schedule, never later than the resync period
//                           (a plain resync is marked so: it waits behind changes in the queue).
// A conflict on the Secret stops the reconcile (another writer won): it runs again from the
// stored state. Key bytes never reach logs, Events, status or errors: only fingerprints.
import type { V1Pod } from '@kubernetes/client-node';
import { withSpecDefaults, type DefaultedTicketKeySetSpec, type TicketKeySet } from '../../api/index.ts';
import { activeKey, PolicyError, policyWarnings, type Condition, type EventAction, type PodObservation, type RotationPolicy, type RotationState } from '../../core/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import type { EventSource } from '../runtime/event-source.ts';
import type { EventRecorder } from '../kube/event-recorder.ts';
import type { PodReadinessGate } from '../kube/pod-readiness.ts';
import type { SecretStore } from '../kube/secret-store.ts';
import type { TicketKeySetStatusWriter } from '../kube/status-writer.ts';
import type { TicketKeyMetrics } from '../metrics.ts';
import { AckHistory } from './ack-history.ts';
import { AgentError } from '../../agent/client.ts';
import type { AgentPort } from './agents.ts';
import type { PushResult } from './execute.ts';
import type { FaultHook } from './fault.ts';
import { PodSelectorIndex } from '../runtime/pod-selector-index.ts';
import { buildStatus, sameStatus, statusMergePatch } from './status.ts';
import { resolveIntOrPercent } from '../../api/schema-kit.ts';
import type { ConfigMapPort } from '../kube/config-map-reader.ts';
import { RotationTiming } from './rotation-timing.ts';
import { ResumptionWrites, resumptionSummary, sameSummary } from './tls-report.ts';
import { pushSessionSharing, sessionSharingSummary } from './session-sharing.ts';
import { decideScheduledRotation } from '../../core/schedule/index.ts';
import { EVENT_ACTIONS } from './event-reasons.ts';
import { loadPolicy, loadSecret, type OwnedSecret } from './load.ts';
import { observeSet, type Observed } from './observe-set.ts';
import { executionPorts } from './execution-ports.ts';
import { runRounds } from './rounds.ts';
import { ConfigConditions } from './config-condition.ts';
import { handledReconcile, setConditions, updateReadinessGates, withPodSummaries, writeBlockedStatus } from './publish.ts';
import type { SecretLoss } from './secret-loss.ts';

export interface ReconcilerOptions {
  ticketKeySets: EventSource<TicketKeySet>;
  pods: EventSource<V1Pod>;
  secrets: Pick<SecretStore, 'load' | 'save'>;
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
  /** Look at every TicketKeySet this often (drift detection); no requeue is later. Such a plain resync waits behind changes (low priority). Default 60 s. */
  resyncMs?: number;
  /** ConfigConsistent names pods still on an older configuration this long after it changed. Default CONFIG_ROLLOUT_BOUND_MS. */
  configRolloutBoundMs?: number;
  /** Reads spec.atsConfig.configMapRef for the ConfigConsistent condition; without it, no such condition. */
  configMaps?: ConfigMapPort;
}

/** What load() gives the later steps. */
interface Loaded {
  readonly spec: DefaultedTicketKeySetSpec;
  readonly policy: RotationPolicy;
  readonly secret: OwnedSecret;
  readonly state: RotationState;
  readonly secretLoss: SecretLoss | undefined;
}

/** What the step/execute rounds leave for publish(). */
interface Executed {
  readonly state: RotationState;
  readonly observations: readonly PodObservation[];
  readonly conditions: readonly Condition[];
  readonly requeueAfterMs: number;
}

export class TicketKeySetReconciler {
  private readonly o: ReconcilerOptions;
  /** The pods each set's selector selects, without a scan of every pod per reconcile. */
  private readonly podIndex: PodSelectorIndex;
  /** Per TicketKeySet (two sets selecting one pod must not mix their rings), per pod uid. */
  private readonly histories = new Map<string, AckHistory>();
  /** Per TicketKeySet: when this process persisted the staged / promoted key now in flight. */
  private readonly timings = new Map<string, RotationTiming>();
  /** Rate limit of status.pods.resumption writes (tls-report.ts). */
  private readonly resumptionWrites = new ResumptionWrites();
  /** Per TicketKeySet: pods whose last ATS ticket counters were refused (warned once per pod). */
  private readonly badTlsReports = new Map<string, Set<string>>();
  /** Rate limit of status.pods.sessionSharing writes (as resumption's). */
  private readonly sharingWrites = new ResumptionWrites();
  /** Per TicketKeySet: pods whose last session-sharing report was refused (warned once per pod). */
  private readonly badSharingReports = new Map<string, Set<string>>();
  /** Per TicketKeySet: the metadata.generation whose policy warnings were recorded as Events. */
  private readonly warnedGenerations = new Map<string, number>();
  private readonly concurrency: number;
  private readonly maxSteps: number;
  private readonly resyncMs: number;
  private readonly configConditions: ConfigConditions | undefined;

  constructor(options: ReconcilerOptions) {
    this.o = options;
    this.concurrency = options.concurrency ?? 16;
    this.maxSteps = options.maxStepsPerReconcile ?? 8;
    this.resyncMs = options.resyncMs ?? 60_000;
    this.configConditions = options.configMaps && new ConfigConditions(options.configMaps, options.clock, options.configRolloutBoundMs);
    this.podIndex = new PodSelectorIndex(options.pods);
  }

  /** The Controller's Reconciler: load → observe → step/execute rounds → publish. */
  readonly reconcile = async (_key: string, ctx: ReconcileContext): Promise<ReconcileResult> => {
    const { namespace, name } = ctx;
    // (The controller's `key` field is masked by the log redaction, so name the object again.)
    const log = ctx.logger.child({ ticketKeySet: `${namespace}/${name}` });
    const tks = this.o.ticketKeySets.get(name, namespace);
    if (!tks || tks.metadata.deletionTimestamp) return this.forget(namespace, name);
    const loaded = await this.load(tks, log);
    if ('result' in loaded) return loaded.result;
    const observed = await this.observe(tks, loaded, log);
    const executed = await this.rounds(tks, loaded, observed, log);
    if (!executed) return { requeue: true }; // the Secret changed under us: again, from the stored state
    await this.shareSessions(tks, loaded, observed, log);
    return this.publish(tks, loaded, observed, executed, log);
  };

  /** Gone: the Secret goes with it (owner reference); only our memory and metrics need forgetting. */
  private forget(namespace: string, name: string): ReconcileResult {
    const key = `${namespace}/${name}`;
    this.histories.delete(key);
    this.timings.delete(key);
    this.resumptionWrites.forget(key);
    this.badTlsReports.delete(key);
    this.sharingWrites.forget(key);
    this.badSharingReports.delete(key);
    this.warnedGenerations.delete(key);
    this.o.metrics?.forgetTicketKeySet({ namespace, name });
    this.configConditions?.forget(
      key,
      this.o.ticketKeySets.list().flatMap((t) => (t.spec?.atsConfig?.configMapRef?.name ? [`${t.metadata.namespace ?? ''}/${t.spec.atsConfig.configMapRef.name}`] : [])),
    );
    return {};
  }

  /** Spec → policy (warnings as Events once per generation), Secret → state; or why not. */
  private async load(tks: TicketKeySet, log: Logger): Promise<Loaded | { result: ReconcileResult }> {
    const spec = withSpecDefaults(tks.spec);
    let policy: RotationPolicy;
    try {
      policy = loadPolicy(spec, tks.metadata.annotations ?? {}, this.o.clock.now());
    } catch (err) {
      // A spec the API server let through but the core refuses: nothing to do until it changes.
      await writeBlockedStatus(this.o.status, this.o.clock, tks, err instanceof PolicyError ? err.reason : 'InvalidSpec', err instanceof Error ? err.message : String(err), log);
      return { result: {} };
    }
    await this.warnPolicy(tks, policy);

    const loaded = await loadSecret(this.o.secrets, tks, log);
    if ('unusable' in loaded) {
      const err = loaded.unusable;
      log.error('owned Secret has a format this operator does not read; not touching it', { secret: loaded.secret.ref.name, reason: err.message });
      await this.recordEvent(tks, { kind: 'event', type: 'Warning', reason: 'SecretUnusable', message: err.message });
      await writeBlockedStatus(this.o.status, this.o.clock, tks, 'SecretUnusable', err.message, log);
      return { result: { requeueAfterMs: this.resyncMs, resync: true } };
    }
    return { spec, policy, ...loaded };
  }

  /** A valid but questionable policy: one Warning Event per warning, once per spec generation. */
  private async warnPolicy(tks: TicketKeySet, policy: RotationPolicy): Promise<void> {
    const key = `${tks.metadata.namespace ?? ''}/${tks.metadata.name ?? ''}`;
    const generation = tks.metadata.generation ?? 0;
    if (this.warnedGenerations.get(key) === generation) return;
    this.warnedGenerations.set(key, generation);
    for (const message of policyWarnings(policy)) await this.recordEvent(tks, { kind: 'event', type: 'Warning', reason: 'PolicyWarning', message });
  }

  /** Target pods, what their agents report (screened), drift; remembers refused TLS reports. */
  private async observe(tks: TicketKeySet, loaded: Loaded, log: Logger): Promise<Observed> {
    const key = `${tks.metadata.namespace ?? ''}/${tks.metadata.name ?? ''}`;
    const badTls = this.badTlsReports.get(key) ?? new Set<string>();
    const badSharing = this.badSharingReports.get(key) ?? new Set<string>();
    const observed = await observeSet({
      tks,
      spec: loaded.spec,
      state: loaded.state,
      podIndex: this.podIndex,
      sets: this.o.ticketKeySets.list(tks.metadata.namespace),
      agents: this.o.agents,
      concurrency: this.concurrency,
      history: this.historyOf(key),
      badTls,
      badSharing,
      metrics: this.o.metrics,
      record: (e, related) => this.recordEvent(tks, e, related),
      log,
    });
    if (badTls.size > 0) this.badTlsReports.set(key, badTls);
    else this.badTlsReports.delete(key);
    if (badSharing.size > 0) this.badSharingReports.set(key, badSharing);
    else this.badSharingReports.delete(key);
    return observed;
  }

  /**
   * Session sharing, after the rounds so it never delays key delivery: each pod whose agent
   * reported a config other than the wanted one gets it. Failures are logged and counted only.
   */
  private async shareSessions(tks: TicketKeySet, loaded: Loaded, observed: Observed, log: Logger): Promise<void> {
    try {
      await pushSessionSharing({
        spec: loaded.spec,
        targets: observed.targets,
        reports: observed.sharingReports,
        agents: this.o.agents,
        concurrency: this.concurrency,
        log,
        onResult: (r) => this.o.metrics?.recordSessionSharingPush(r),
      });
    } catch (err) {
      // pushSessionSharing catches per pod; anything else (a bug) must not stop the publish either.
      log.error('session sharing step failed', { err });
    }
  }

  /** step() and executeActions() while they make progress; undefined when the Secret changed under us. */
  private async rounds(tks: TicketKeySet, loaded: Loaded, observed: Observed, log: Logger): Promise<Executed | undefined> {
    const ref = { namespace: tks.metadata.namespace ?? '', name: tks.metadata.name ?? '' };
    const timing = this.timingOf(`${ref.namespace}/${ref.name}`);
    const record = (e: EventAction, related?: V1Pod): Promise<void> => this.recordEvent(tks, e, related);
    const outcome = await runRounds({
      tks,
      policy: loaded.policy,
      state: loaded.state,
      secretLoss: loaded.secretLoss,
      observations: observed.observations,
      issuedGeneration: observed.issuedGeneration,
      byName: observed.byName,
      configReports: observed.configReports,
      current: observed.current,
      drifted: observed.drifted,
      ports: (current) =>
        executionPorts({
          tks,
          secrets: this.o.secrets,
          secret: loaded.secret,
          current,
          timing,
          targets: observed.byName,
          agentPort: loaded.spec.agent.port,
          agents: this.o.agents,
          record,
          pushMetricResult,
          metrics: this.o.metrics,
          fault: this.o.fault,
          clock: this.o.clock,
          log,
        }),
      now: () => this.o.clock.now(),
      concurrency: this.concurrency,
      maxSteps: this.maxSteps,
      requeueAfterMs: this.resyncMs,
      observed: (state, observations) => {
        const d = timing.observe(state, observations, this.o.clock.now());
        if (d.stageSeconds !== undefined) this.o.metrics?.recordStageDuration(ref, d.stageSeconds);
        if (d.promoteSeconds !== undefined) this.o.metrics?.recordPromoteDuration(ref, d.promoteSeconds);
      },
      record,
      log,
      secretName: loaded.secret.ref.name,
    });
    return outcome.conflict ? undefined : outcome;
  }

  /** Readiness gates, conditions, status (written when changed), metrics, and when to come back. */
  private async publish(tks: TicketKeySet, loaded: Loaded, observed: Observed, executed: Executed, log: Logger): Promise<ReconcileResult> {
    const { spec, policy } = loaded;
    const { state, observations } = executed;
    const { targets, configReports, tlsReports, sharingReports } = observed;
    const ref = { namespace: tks.metadata.namespace ?? '', name: tks.metadata.name ?? '' };
    const key = `${ref.namespace}/${ref.name}`;

    // Remember what each pod was last seen holding (read back or pushed), forget pods that are gone.
    const history = this.historyOf(key);
    for (const obs of observations) if (obs.acked && obs.error === undefined) history.set(obs.uid, obs.acked);
    history.retain(targets.map((t) => t.uid));

    const gates = await updateReadinessGates(this.o.readiness, targets, observations, state, resolveIntOrPercent(spec.availability.maxUnavailable, targets.length), log);
    // After the pushes: reading and judging the ATS configuration never delays or stops key delivery.
    const configCondition = await this.configConditions?.condition(tks, spec, policy, configReports, (e) => this.recordEvent(tks, e), log);
    const conditions = setConditions(executed.conditions, gates.heldByBudget, observed.conflicts, configCondition, targets.length);

    const now = this.o.clock.now();
    const status = buildStatus({
      state,
      conditions,
      pods: observations,
      previous: tks.status,
      observedGeneration: tks.metadata.generation ?? 0,
      secretName: loaded.secret.ref.name,
      suspend: policy.suspend,
      now,
      configReports,
      ...handledReconcile(tks, log),
      ...(policy.schedule && state.lastRotationTime !== undefined
        ? { schedule: { decision: decideScheduledRotation(policy.schedule, state.lastRotationTime, now), hasWindows: policy.schedule.windows.length > 0 } }
        : {}),
    });
    // status.pods.resumption and .sessionSharing: see ResumptionWrites (a moving counter alone
    // writes at most once per resync period; a write that happens anyway carries both fresh).
    const live = targets.filter((t) => !t.terminating).map((t) => t.name);
    const writtenResumption = tks.status?.pods?.resumption;
    const writtenSharing = tks.status?.pods?.sessionSharing;
    const freshResumption = resumptionSummary(live.map((pod) => tlsReports.get(pod)));
    // Only while sharing is on: turning it off removes the summary at once.
    const freshSharing = spec.sessionCache.sharing.enabled ? sessionSharingSummary(live.map((pod) => sharingReports.get(pod))) : undefined;
    const otherwiseSame = sameStatus(withPodSummaries(status, writtenResumption, writtenSharing), tks.status);
    let resumption = this.resumptionWrites.choose(key, freshResumption, writtenResumption, otherwiseSame, now, this.resyncMs);
    let sharing = spec.sessionCache.sharing.enabled ? this.sharingWrites.choose(key, freshSharing, writtenSharing, otherwiseSame, now, this.resyncMs) : undefined;
    if (!otherwiseSame || !sameSummary(resumption, writtenResumption) || !sameSummary(sharing, writtenSharing)) {
      resumption = freshResumption;
      sharing = freshSharing;
    }
    const published = withPodSummaries(status, resumption, sharing);
    if (!sameStatus(published, tks.status)) {
      const { observedGeneration, ...rest } = published;
      await this.o.status.patchStatus(ref, statusMergePatch(rest), observedGeneration ?? 0);
      const wroteAt = this.o.clock.now();
      if (!sameSummary(resumption, writtenResumption)) this.resumptionWrites.wrote(key, wroteAt);
      if (!sameSummary(sharing, writtenSharing)) this.sharingWrites.wrote(key, wroteAt);
    }
    this.o.metrics?.observePodTls(ref, live, tlsReports);
    // As the status summary: per-pod sharing series only while the set shares (six a pod).
    this.o.metrics?.observePodSessionSharing(ref, spec.sessionCache.sharing.enabled ? live : [], sharingReports);
    this.o.metrics?.observeTicketKeySet(ref, {
      ...(state.lastRotationTime !== undefined ? { lastRotationTime: state.lastRotationTime } : {}),
      ...(state.nextRotationTime !== undefined && !policy.suspend ? { nextRotationTime: state.nextRotationTime } : {}),
      ...(activeKey(state) ? { activeKeyCreatedAt: activeKey(state)!.createdAt } : {}),
      podsConverged: published.pods?.converged ?? 0,
      podsTotal: published.pods?.total ?? 0,
    });
    // Nothing due sooner than the resync: the next look is the periodic one, behind any change.
    if (executed.requeueAfterMs >= this.resyncMs) return { requeueAfterMs: this.resyncMs, resync: true };
    return { requeueAfterMs: Math.max(1, executed.requeueAfterMs) };
  }

  private historyOf(key: string): AckHistory {
    let history = this.histories.get(key);
    if (!history) this.histories.set(key, (history = new AckHistory()));
    return history;
  }

  private timingOf(key: string): RotationTiming {
    let timing = this.timings.get(key);
    if (!timing) this.timings.set(key, (timing = new RotationTiming()));
    return timing;
  }

  private async recordEvent(tks: TicketKeySet, e: EventAction, related?: V1Pod): Promise<void> {
    await this.o.events.record(tks, {
      type: e.type,
      reason: e.reason,
      action: EVENT_ACTIONS[e.reason],
      note: e.message,
      ...(related?.metadata ? { related: { apiVersion: 'v1', kind: 'Pod', namespace: related.metadata.namespace, name: related.metadata.name, uid: related.metadata.uid } } : {}),
    });
  }
}

function pushMetricResult(r: PushResult, err: unknown): 'success' | 'error' | 'timeout' | 'rejected' {
  if ('ack' in r) return 'success';
  if (!(err instanceof AgentError)) return 'error';
  if (err.code === 'timeout') return 'timeout';
  if (err.status >= 400 && err.status < 500) return 'rejected';
  return 'error';
}
