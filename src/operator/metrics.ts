// The operator's Prometheus metrics: its own Registry (never prom-client's global one, so tests
// and several operators in one process do not collide), holding the controller-runtime style
// work-queue and reconcile metrics and the domain metrics of the rotation.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { systemClock, type Clock } from './clock.ts';
import { ControllerMetrics } from './controller-metrics.ts';
import type { ObjectRef } from './kube/resources.ts';
import { WorkqueueMetrics } from './workqueue-metrics.ts';

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
  private readonly activeKeyCreatedAt = new Map<string, { ref: ObjectRef; at: number }>();

  constructor(registry: Registry, clock: Clock = systemClock) {
    const registers = [registry];
    const labelNames = ['namespace', 'name'] as const;
    const createdAt = this.activeKeyCreatedAt;
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
      help: 'Latency of ring pushes to pod agents',
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
    this.activeKeyCreatedAt.delete(refKey(ref));
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
