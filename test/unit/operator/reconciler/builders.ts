// The input side of the reconcile shell's table-driven tests (cert-manager's pattern): a
// builder for TicketKeySets, a fixture that wires one reconciler to the fakes of fakes.ts,
// and `act`, which runs one reconcile and returns what it did — Secret writes, agent calls,
// Events, status patches, pod conditions — as the expected-actions side of a case.
import type { V1Pod } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import type { EventInput } from '../../../../src/operator/kube/event-recorder.ts';
import type { PodConditionUpdate } from '../../../../src/operator/kube/pod-readiness.ts';
import type { ReconcileContext, ReconcileResult } from '../../../../src/operator/runtime/controller.ts';
import { TicketKeySetReconciler, type ReconcilerOptions } from '../../../../src/operator/reconciler/reconciler.ts';
import { FakeClock } from '../runtime/fake-clock.ts';
import { FakeSource } from '../runtime/fake-source.ts';
import { silentLogger } from '../logger.ts';
import { eventsInto, FakeAgents, fakePod, FakeSecrets, statusInto } from './fakes.ts';

type Spec = NonNullable<TicketKeySet['spec']>;

/** A TicketKeySet ns/web selecting app=ats, rotating hourly, promotion timeout 1m; change what a case needs. */
export class TicketKeySetBuilder {
  private obj: TicketKeySet;

  constructor(name = 'web') {
    this.obj = {
      apiVersion: 'ticketkeys.dev/v1alpha1',
      kind: 'TicketKeySet',
      metadata: { name, namespace: 'ns', uid: name === 'web' ? 'tks-uid' : `${name}-uid`, generation: 1, annotations: {} },
      spec: { selector: { matchLabels: { app: 'ats' } }, rotation: { interval: '1h' }, promotion: { timeout: '1m' } },
    };
  }

  /** Spec fields over the default spec (top-level fields replaced). */
  spec(fields: Partial<Spec>): this {
    this.obj = { ...this.obj, spec: { ...this.obj.spec!, ...fields } };
    return this;
  }

  /** Only this spec (no defaults of the builder). */
  onlySpec(spec: Spec): this {
    this.obj = { ...this.obj, spec };
    return this;
  }

  annotations(annotations: Record<string, string>): this {
    this.obj = { ...this.obj, metadata: { ...this.obj.metadata, annotations } };
    return this;
  }

  generation(generation: number): this {
    this.obj = { ...this.obj, metadata: { ...this.obj.metadata, generation } };
    return this;
  }

  createdAt(ms: number): this {
    this.obj = { ...this.obj, metadata: { ...this.obj.metadata, creationTimestamp: new Date(ms) as never } };
    return this;
  }

  build(): TicketKeySet {
    return structuredClone(this.obj);
  }
}

export const aTicketKeySet = (name?: string): TicketKeySetBuilder => new TicketKeySetBuilder(name);

/** Two Ready pods a (10.0.0.1) and b (10.0.0.2) labelled app=ats. */
export const twoPods = (): V1Pod[] => [fakePod('a', { ip: '10.0.0.1' }), fakePod('b', { ip: '10.0.0.2' })];

export interface Given {
  /** The TicketKeySets in the informer cache; the first one is reconciled. Default: aTicketKeySet(). */
  sets?: TicketKeySet[];
  /** Default: twoPods(). */
  pods?: V1Pod[];
  agents?: FakeAgents;
  /** Other reconciler options (resyncMs, configMaps, metrics, …). */
  options?: Partial<ReconcilerOptions>;
  /** The reconcile's logger. Default: silent. */
  logger?: ReconcileContext['logger'];
}

export type Fixture = ReturnType<typeof fixture>;

export function fixture(given: Given = {}) {
  const sets = given.sets ?? [aTicketKeySet().build()];
  const self = sets[0]!;
  const name = self.metadata.name!;
  const namespace = self.metadata.namespace!;
  const clock = new FakeClock();
  const tksSource = new FakeSource<TicketKeySet>({ objects: sets });
  const podSource = new FakeSource<V1Pod>({ objects: given.pods ?? twoPods() });
  const secrets = new FakeSecrets();
  const agents = given.agents ?? new FakeAgents();
  const events: EventInput[] = [];
  const statusWrites: Array<Record<string, unknown>> = [];
  const conditions: Array<{ pod: string; update: PodConditionUpdate }> = [];
  const reconciler = new TicketKeySetReconciler({
    ticketKeySets: tksSource,
    pods: podSource,
    secrets,
    status: statusInto(tksSource, (status, observedGeneration) => statusWrites.push({ ...status, observedGeneration })),
    events: eventsInto(events),
    readiness: {
      setCondition: (pod, update) => {
        conditions.push({ pod: pod.metadata!.name!, update });
        return Promise.resolve(undefined);
      },
    },
    agents,
    clock,
    ...given.options,
  });
  const ctx: ReconcileContext = { namespace, name, logger: given.logger ?? silentLogger(), retries: 0 };
  const current = (): TicketKeySet => tksSource.get(name, namespace)!;
  return {
    clock,
    tksSource,
    podSource,
    secrets,
    agents,
    events,
    statusWrites,
    conditions,
    current,
    reconcile: (): Promise<ReconcileResult> => reconciler.reconcile(`${namespace}/${name}`, ctx) as Promise<ReconcileResult>,
    /** Replaces the reconciled set's annotations (a user's `kubectl annotate`). */
    annotate: (annotations: Record<string, string>): void => tksSource.upsert({ ...current(), metadata: { ...current().metadata, annotations } }),
    /** A user's edit of the reconciled set's spec: metadata.generation goes up by one. */
    editSpec: (fields: Partial<Spec>): void =>
      tksSource.upsert({ ...current(), metadata: { ...current().metadata, generation: (current().metadata.generation ?? 0) + 1 }, spec: { ...current().spec!, ...fields } }),
  };
}

/** What one reconcile did. */
export interface Acted {
  result: ReconcileResult;
  secretWrites: number;
  /** Agent calls in order: 'get <ip>', 'put <ip> <generation>'. */
  agentCalls: string[];
  events: EventInput[];
  statusWrites: Array<Record<string, unknown>>;
  podConditions: Array<{ pod: string; update: PodConditionUpdate }>;
}

/** Runs one reconcile of `f` and returns only what that reconcile did. */
export async function act(f: Fixture): Promise<Acted> {
  const before = { secretWrites: f.secrets.writes, calls: f.agents.calls.length, events: f.events.length, status: f.statusWrites.length, conditions: f.conditions.length };
  const result = await f.reconcile();
  return {
    result,
    secretWrites: f.secrets.writes - before.secretWrites,
    agentCalls: f.agents.calls.slice(before.calls),
    events: f.events.slice(before.events),
    statusWrites: f.statusWrites.slice(before.status),
    podConditions: f.conditions.slice(before.conditions),
  };
}

/** The condition of `type` in the set's status. */
export const conditionOf = (t: TicketKeySet, type: string) => t.status?.conditions?.find((c) => c.type === type);
