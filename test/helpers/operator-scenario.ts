// The set-up the operator scenario tests share: a namespace of their own, a Fleet of pods with
// real agents, a real `tko operator` watching the namespace, TicketKeySets there, and optionally
// a first TicketKeySet with a wait until its first ring reached N pods. Registers beforeAll
// (set-up) and afterAll (operator stopped, then fleet closed); the fields are set by beforeAll.
//
//   const s = useOperatorScenario('operator-rotation', {
//     pods: PODS.map((name, i) => ({ name, ip: `127.0.0.${121 + i}`, labels: { app: 'rot' } })),
//   });
//   s.ns.name, s.port, s.fleet, s.tks, s.operator
//
//   await untilStatus(tks, 'web', 'Ready with 3/3', (t) => isReady(t, '3/3'))   the TicketKeySet
import { afterAll, beforeAll } from '@jest/globals';
import type { TicketKeySet } from '../../src/api/index.ts';
import { Fleet, type FleetPodOptions } from '../../dev/fleet.ts';
import { eventually, testKubeConfig, useNamespace, type TestNamespace } from './kube.ts';
import { spawnOperator, type SpawnedOperator, type SpawnOperatorOptions } from '../../dev/operator-process.ts';
import { TicketKeySets, type TicketKeySetBody } from '../../dev/ticket-key-sets.ts';

export interface OperatorScenarioOptions {
  /** Fleet pods, added in order. */
  pods: Array<FleetPodOptions & { name: string }>;
  /** Agent port of the fleet. Default 19443. */
  port?: number;
  /** Extra `tko operator` options; false: no operator (the file spawns its own). */
  operator?: Omit<SpawnOperatorOptions, 'certs' | 'namespaces'> | false;
  /** A TicketKeySet created once the operator runs (once the fleet runs with `operator: false`). */
  ticketKeySet?: TicketKeySetBody;
  /** Wait until the TicketKeySet reports this many converged pods ('first ring'). */
  firstRingPods?: number;
  /** beforeAll timeout. Default 60 s. */
  setupTimeoutMs?: number;
  /** afterAll timeout. Default jest's. */
  teardownTimeoutMs?: number;
}

export interface OperatorScenario {
  readonly ns: TestNamespace;
  readonly port: number;
  fleet: Fleet;
  tks: TicketKeySets;
  /** Undefined with `operator: false`. */
  operator: SpawnedOperator;
}

export function useOperatorScenario(prefix: string, options: OperatorScenarioOptions): OperatorScenario {
  const ns = useNamespace(prefix);
  const port = options.port ?? 19443;
  const s = { ns, port } as OperatorScenario;
  beforeAll(async () => {
    const kc = testKubeConfig();
    s.tks = new TicketKeySets(kc, ns.name);
    s.fleet = await Fleet.create({ kc, namespace: ns.name, port });
    for (const { name, ...pod } of options.pods) await s.fleet.add(name, pod);
    if (options.operator !== false) s.operator = await spawnOperator({ ...options.operator, certs: s.fleet.files, namespaces: [ns.name] });
    if (options.ticketKeySet) {
      const name = options.ticketKeySet.metadata.name;
      await s.tks.create(options.ticketKeySet);
      const n = options.firstRingPods;
      if (n !== undefined) await untilStatus(s.tks, name, 'first ring', (t) => t.status?.pods?.converged === n);
    }
  }, options.setupTimeoutMs ?? 60_000);
  afterAll(async () => {
    await (s.operator as SpawnedOperator | undefined)?.stop();
    await (s.fleet as Fleet | undefined)?.close();
  }, options.teardownTimeoutMs);
  return s;
}

/** Polls the TicketKeySet until `done` holds for it; returns it. */
export function untilStatus(tks: TicketKeySets, name: string, what: string, done: (t: TicketKeySet) => boolean, timeoutMs?: number): Promise<TicketKeySet> {
  return eventually(
    what,
    async () => {
      const t = await tks.get(name);
      return done(t) ? t : undefined;
    },
    timeoutMs,
  );
}

/** Ready=True with the given pods summary (e.g. '3/3'). */
export function isReady(t: TicketKeySet, summary: string): boolean {
  const c = t.status?.conditions?.find((x) => x.type === 'Ready');
  return c?.status === 'True' && t.status?.pods?.summary === summary;
}
