// The operator's Prometheus metrics: its own Registry (never prom-client's global one, so tests
// and several operators in one process do not collide), holding the controller-runtime style
// work-queue and reconcile metrics and the domain metrics of the rotation.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { systemClock, type Clock } from './runtime/clock.ts';
import { ControllerMetrics } from './runtime/controller-metrics.ts';
import type { ObjectRef } from './runtime/object-key.ts';
import { WorkqueueMetrics } from './runtime/workqueue-metrics.ts';

export type PushResult = 'success' | 'error' | 'timeout' | 'rejected';
export type RotationResult = 'success' | 'failure' | 'timeout';

/** What a reconcile knows about one TicketKeySet; absent times clear their series. */
export interface TicketKeySetObservation {
  lastRotationTime?: number; // ms epoch
  nextRotationTime?: number; // ms epoch
  /** When the active key was created (its age is computed at scrape time). */
  activeKeyCreatedAt?: number; // ms epoch
  podsConverged: number;
  podsTotal: number;
}

/** ATS's own session-ticket counters of one pod (validated: reconciler/tls-report.ts). */
export interface PodTlsCounters {
  ticketsNotFound: number;
  ticketsVerifiedOldKey: number;
}

/** One pod's session-sharing counters by direction (validated: reconciler/session-sharing.ts). */
export type PodSessionSharingCounters = Readonly<Record<'exported' | 'sent' | 'received' | 'inserted' | 'dropped' | 'refused', number>>;

/** Buckets of the rotation duration histograms: 10 ms (one pod, in-memory bridge) to 5 min (promotion.timeout territory). */
export const ROTATION_DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Domain metrics, prefixed `ticketkeys_`. Never carries key bytes: only times, counts, results. */
export class TicketKeyMetrics {
  readonly lastRotation: Gauge<'namespace' | 'name'>;
  readonly nextRotation: Gauge<'namespace' | 'name'>;
  readonly activeKeyAge: Gauge<'namespace' | 'name'>;
  readonly podsConverged: Gauge<'namespace' | 'name'>;
  readonly podsTotal: Gauge<'namespace' | 'name'>;
  readonly pushes: Counter<'result'>;
  readonly pushDuration: Histogram<'result'>;
  readonly rotations: Counter<'result'>;
  readonly rejectedReports: Counter;
  readonly pkiIssued: Counter<'kind' | 'reason'>;
  readonly pkiErrors: Counter<'stage'>;
  readonly rotationStageDuration: Histogram<'namespace' | 'name'>;
  readonly rotationPromoteDuration: Histogram<'namespace' | 'name'>;
  readonly podTicketsNotFound: Gauge<'namespace' | 'name' | 'pod'>;
  readonly podTicketsVerifiedOldKey: Gauge<'namespace' | 'name' | 'pod'>;
  readonly podSessionSharing: Gauge<'namespace' | 'ticketkeyset' | 'pod' | 'direction'>;
  readonly sessionSharingPushes: Counter<'result'>;
  private readonly activeKeyCreatedAt = new Map<string, { ref: ObjectRef; at: number }>();
  /** Per TicketKeySet, per target pod: the last valid ATS ticket counters (series set at scrape time). */
  private readonly podTls = new Map<string, { ref: ObjectRef; pods: Map<string, PodTlsCounters> }>();
  /** Per TicketKeySet, per target pod: the last valid session-sharing counters (series set at scrape time). */
  private readonly podSharing = new Map<string, { ref: ObjectRef; pods: Map<string, PodSessionSharingCounters> }>();

  constructor(registry: Registry, clock: Clock = systemClock) {
    const registers = [registry];
    const labelNames = ['namespace', 'name'] as const;
    const createdAt = this.activeKeyCreatedAt;
    const podTls = this.podTls;
    const podSharing = this.podSharing;
    const podLabelNames = ['namespace', 'name', 'pod'] as const;
    /** A per-pod gauge rebuilt from podTls at every scrape: a pod or set that is gone has no series. */
    const podGauge = (name: string, help: string, field: keyof PodTlsCounters): Gauge<'namespace' | 'name' | 'pod'> =>
      new Gauge({
        name,
        help,
        labelNames: podLabelNames,
        registers,
        collect() {
          this.reset();
          for (const { ref, pods } of podTls.values()) {
            for (const [pod, c] of pods) this.set({ namespace: ref.namespace, name: ref.name, pod }, c[field]);
          }
        },
      });
    this.lastRotation = new Gauge({ name: 'ticketkeys_last_rotation_timestamp_seconds', help: 'Unix time of the last completed rotation (promotion) of a TicketKeySet', labelNames, registers });
    this.nextRotation = new Gauge({ name: 'ticketkeys_next_rotation_timestamp_seconds', help: 'Unix time of the next scheduled rotation of a TicketKeySet', labelNames, registers });
    this.activeKeyAge = new Gauge({
      name: 'ticketkeys_active_key_age_seconds',
      help: 'Age of the key that currently encrypts new tickets',
      labelNames,
      registers,
      collect() {
        this.reset();
        const now = clock.now();
        for (const { ref, at } of createdAt.values()) this.set({ namespace: ref.namespace, name: ref.name }, Math.max(0, now - at) / 1000);
      },
    });
    this.podsConverged = new Gauge({ name: 'ticketkeys_pods_converged', help: 'Target pods whose agent acknowledged the current ring', labelNames, registers });
    this.podsTotal = new Gauge({ name: 'ticketkeys_pods_total', help: 'Target pods selected by a TicketKeySet', labelNames, registers });
    this.pkiIssued = new Counter({ name: 'ticketkeys_agent_pki_issued_total', help: 'Agent PKI changes: CAs created, added or promoted, and certificates issued, by kind and reason', labelNames: ['kind', 'reason'], registers });
    this.pkiErrors = new Counter({ name: 'ticketkeys_agent_pki_errors_total', help: 'Agent PKI passes that failed, by stage (ca: the CA Secret; agent: one workload\'s Secret)', labelNames: ['stage'], registers });
    this.pushes = new Counter({ name: 'ticketkeys_pushes_total', help: 'Ring pushes to pod agents by result', labelNames: ['result'], registers });
    this.pushDuration = new Histogram({
      name: 'ticketkeys_push_duration_seconds',
      help: 'Latency of one ring push to one pod agent (PUT /v1/ring until the agent proved ATS holds the ring), by result',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rejectedReports = new Counter({
      name: 'ticketkeys_pod_reports_rejected_total',
      help: 'Pod reports refused as input (a generation the operator never issued), counted once per new report',
      registers,
    });
    this.rotations = new Counter({ name: 'ticketkeys_rotations_total', help: 'Rotations by result', labelNames: ['result'], registers });
    this.rotationStageDuration = new Histogram({
      name: 'ticketkeys_rotation_stage_duration_seconds',
      help: 'From the new key persisted as staged until every ready target pod acknowledged the staged ring (observed only when this operator process saw both)',
      labelNames,
      buckets: ROTATION_DURATION_BUCKETS,
      registers,
    });
    this.rotationPromoteDuration = new Histogram({
      name: 'ticketkeys_rotation_promote_duration_seconds',
      help: 'From the promotion persisted until every ready target pod acknowledged the promoted ring (observed only when this operator process saw both)',
      labelNames,
      buckets: ROTATION_DURATION_BUCKETS,
      registers,
    });
    this.podTicketsNotFound = podGauge(
      'ticketkeys_pod_tls_tickets_not_found',
      'Session tickets this pod\'s ATS could not decrypt with any key it holds (ATS proxy.process.ssl.total_tickets_not_found: a failed resumption; resets when ATS restarts)',
      'ticketsNotFound',
    );
    this.podTicketsVerifiedOldKey = podGauge(
      'ticketkeys_pod_tls_tickets_verified_old_key',
      'Session tickets this pod\'s ATS decrypted with a key other than the encrypting one (ATS proxy.process.ssl.total_tickets_verified_old_key: resumed and renewed; resets when ATS restarts)',
      'ticketsVerifiedOldKey',
    );
    this.podSessionSharing = new Gauge({
      name: 'ticketkeys_pod_session_sharing_sessions',
      help:
        'TLS sessions this pod\'s agent shared, by direction: exported (read from ATS), sent (delivered to a peer, per peer), received (accepted from peers), ' +
        'inserted (handed to ATS), dropped (queue full or delivery failed), refused (failed validation or authorization); since the agent started',
      labelNames: ['namespace', 'ticketkeyset', 'pod', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const { ref, pods } of podSharing.values()) {
          for (const [pod, c] of pods) {
            for (const [direction, v] of Object.entries(c)) this.set({ namespace: ref.namespace, ticketkeyset: ref.name, pod, direction }, v);
          }
        }
      },
    });
    this.sessionSharingPushes = new Counter({
      name: 'ticketkeys_session_sharing_config_pushes_total',
      help: 'Session-sharing configurations sent to pod agents (PUT /v1/session-sharing), by result',
      labelNames: ['result'],
      registers,
    });
  }

  /** Sets the per-TicketKeySet gauges from one reconcile's view. */
  observeTicketKeySet(ref: ObjectRef, o: TicketKeySetObservation): void {
    const labels = { namespace: ref.namespace, name: ref.name };
    setOrRemove(this.lastRotation, labels, o.lastRotationTime);
    setOrRemove(this.nextRotation, labels, o.nextRotationTime);
    if (o.activeKeyCreatedAt === undefined) this.activeKeyCreatedAt.delete(refKey(ref));
    else this.activeKeyCreatedAt.set(refKey(ref), { ref: { ...ref }, at: o.activeKeyCreatedAt });
    this.podsConverged.set(labels, o.podsConverged);
    this.podsTotal.set(labels, o.podsTotal);
  }

  /** Drops every series of a deleted TicketKeySet. */
  forgetTicketKeySet(ref: ObjectRef): void {
    const labels = { namespace: ref.namespace, name: ref.name };
    for (const g of [this.lastRotation, this.nextRotation, this.podsConverged, this.podsTotal]) g.remove(labels);
    for (const h of [this.rotationStageDuration, this.rotationPromoteDuration]) h.remove(labels);
    this.activeKeyCreatedAt.delete(refKey(ref));
    this.podTls.delete(refKey(ref));
    this.podSharing.delete(refKey(ref));
  }

  /**
   * The ATS ticket counters of a set's pods after one reconcile: `reports` has the pods whose
   * agent answered with valid counters (a pod whose agent could not be read keeps its last value
   * while it stays in `targets`); pods not in `targets`, or that answered without counters, lose
   * their series.
   */
  observePodTls(ref: ObjectRef, targets: Iterable<string>, reports: ReadonlyMap<string, PodTlsCounters | undefined>): void {
    const key = refKey(ref);
    const previous = this.podTls.get(key)?.pods;
    const pods = new Map<string, PodTlsCounters>();
    for (const pod of targets) {
      const c = reports.has(pod) ? reports.get(pod) : previous?.get(pod);
      if (c) pods.set(pod, { ticketsNotFound: c.ticketsNotFound, ticketsVerifiedOldKey: c.ticketsVerifiedOldKey });
    }
    if (pods.size === 0) this.podTls.delete(key);
    else this.podTls.set(key, { ref: { ...ref }, pods });
  }

  /**
   * The session-sharing counters of a set's pods after one reconcile, as observePodTls: a pod
   * whose agent could not be read keeps its last values while it stays in `targets`; a pod that
   * left `targets`, or answered without (valid) counters, loses its series.
   */
  observePodSessionSharing(ref: ObjectRef, targets: Iterable<string>, reports: ReadonlyMap<string, { counters: PodSessionSharingCounters } | undefined>): void {
    const key = refKey(ref);
    const previous = this.podSharing.get(key)?.pods;
    const pods = new Map<string, PodSessionSharingCounters>();
    for (const pod of targets) {
      const c = reports.has(pod) ? reports.get(pod)?.counters : previous?.get(pod);
      if (c) pods.set(pod, { exported: c.exported, sent: c.sent, received: c.received, inserted: c.inserted, dropped: c.dropped, refused: c.refused });
    }
    if (pods.size === 0) this.podSharing.delete(key);
    else this.podSharing.set(key, { ref: { ...ref }, pods });
  }

  recordSessionSharingPush(result: 'success' | 'error'): void {
    this.sessionSharingPushes.inc({ result });
  }

  /** One staged ring acknowledged by every ready target pod, `seconds` after it was persisted. */
  recordStageDuration(ref: ObjectRef, seconds: number): void {
    this.rotationStageDuration.observe({ namespace: ref.namespace, name: ref.name }, seconds);
  }

  /** One promoted ring acknowledged by every ready target pod, `seconds` after the promotion was persisted. */
  recordPromoteDuration(ref: ObjectRef, seconds: number): void {
    this.rotationPromoteDuration.observe({ namespace: ref.namespace, name: ref.name }, seconds);
  }

  recordPush(result: PushResult, durationSeconds: number): void {
    this.pushes.inc({ result });
    this.pushDuration.observe({ result }, durationSeconds);
  }

  recordRejectedReport(): void {
    this.rejectedReports.inc();
  }

  recordRotation(result: RotationResult): void {
    this.rotations.inc({ result });
  }
}

export class OperatorMetrics {
  readonly registry: Registry;
  readonly workqueue: WorkqueueMetrics;
  readonly controller: ControllerMetrics;
  readonly ticketKeys: TicketKeyMetrics;

  constructor(options: { clock?: Clock; processMetrics?: boolean } = {}) {
    this.registry = new Registry();
    this.workqueue = new WorkqueueMetrics(this.registry);
    this.controller = new ControllerMetrics(this.registry);
    this.ticketKeys = new TicketKeyMetrics(this.registry, options.clock ?? systemClock);
    // Process metrics (CPU, memory, event-loop lag) on the same registry; off in unit tests.
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

function setOrRemove(g: Gauge<'namespace' | 'name'>, labels: { namespace: string; name: string }, ms: number | undefined): void {
  if (ms === undefined) g.remove(labels);
  else g.set(labels, ms / 1000);
}

function refKey(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}
