// Scale benchmark: one operator, many TicketKeySets, many pods; idle, then a wave where every set
// rotates at once.
//
//   npm run bench:scale -- [--json] [--sets 1000] [--pods-per-set 10] [--idle-seconds 90]
//                          [--wave-deadline-seconds 300] [--operator-flags="--workers 16"]
//
// One test bed (kube-apiserver + etcd) and one real `tko operator` process (flags at their
// defaults; started with the Node flags its container uses, OPERATOR_NODE_FLAGS). In one namespace:
// sets × podsPerSet Pod objects (status written as the kubelet would) and as many agents served
// by child processes of this one (bench/agent-fleet.ts), each on its own loopback address in 127.2.0.0/16 with real mutual TLS and its
// own per-pod certificate, over the in-memory ATS bridge (this measures the operator, not ATS).
// Each TicketKeySet selects its own podsPerSet pods.
//
// Phases:
//   setup  certificates, agents, pods, sets; until every set is Stable with every pod converged.
//   idle   --idle-seconds with nothing to do but the operator's resyncs: CPU, RSS, API requests.
//   wave   a rotate-now on every set (sent as fast as the API server takes them); per set, the
//          time from its own PATCH until every agent of the set holds the promoted ring
//          (as the fleet processes saw it) and until its status shows it; operator RSS and CPU sampled
//          every second, its work queue depth (every 5 s) and queue latency from its /metrics; the API
//          requests the operator made (apiserver_request_total less the benchmark's own), by
//          verb and resource, per rotation and per pod touched, and every LIST among them.
// Results: bench/results/scale.json (and stdout with --json). No key bytes are reported.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ANNOTATION_ROTATE_NOW } from '../src/api/names.ts';
import type { TicketKeySet } from '../src/api/index.ts';
import { createDevCerts, writeDevCerts } from '../src/dev/certs.ts';
import { OPERATOR_NODE_FLAGS } from '../src/operator/runtime-flags.ts';
import { FakePods } from '../dev/fake-pods.ts';
import { ticketKeySet, TicketKeySets } from '../dev/ticket-key-sets.ts';
import { REPO_ROOT } from '../dev/testbed/testbed.ts';
import { AgentFleet } from './agent-fleet.ts';
import { buildBundledTko } from './build.ts';
import { BenchCleanups } from './cleanups.ts';
import {
  apiserverRequests,
  counterDelta,
  dist,
  histogramBuckets,
  histogramQuantile,
  machineCpu,
  machineFacts,
  mapBounded,
  memoryBreakdown,
  writeResult,
  operatorMetrics,
  procStat,
  samplesOf,
  type ProcFacts,
} from './measure.ts';
import { startBenchOperator } from './operator-process.ts';
import { startBenchTestbed } from './testbed.ts';

const RESULT_FILE = join(REPO_ROOT, 'bench', 'results', 'scale.json');
const AGENT_PORT = 19744;
const NAMESPACE = 'bench-scale';
const SET_LABEL = 'bench.ticketkeys.dev/set';
/** Each agent holds two listening sockets; a process here may open 20,000 files. */
const AGENTS_PER_PROCESS = 4000;
/** What the operator reads and writes (no leases: leader election is off here). */
const OPERATOR_RESOURCES = new Set(['pods', 'secrets', 'configmaps', 'ticketkeysets', 'events']);
const TARGET = { operatorRssMb: 200, waveConvergedSeconds: 120 };

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    sets: { type: 'string', default: '1000' },
    'pods-per-set': { type: 'string', default: '10' },
    'idle-seconds': { type: 'string', default: '90' },
    'wave-deadline-seconds': { type: 'string', default: '300' },
    // Extra `tko operator` flags, space-separated, given with = (--operator-flags="--workers 16"):
    // experiments off the defaults.
    'operator-flags': { type: 'string', default: '' },
    dir: { type: 'string', default: join(REPO_ROOT, '.tko', 'bench-scale') },
  },
});
function intArg(name: keyof typeof args, min: number, max: number): number {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name}: an integer in ${min}..${max}`);
  return v;
}
const SETS = intArg('sets', 1, 2000);
const PODS_PER_SET = intArg('pods-per-set', 1, 16);
const IDLE_SECONDS = intArg('idle-seconds', 0, 3600);
const WAVE_DEADLINE_MS = intArg('wave-deadline-seconds', 10, 3600) * 1000;
const PODS = SETS * PODS_PER_SET;
const OPERATOR_FLAGS = args['operator-flags'].split(/\s+/).filter(Boolean);
if (PODS > 250 * 250) throw new Error('at most 62,500 pods (one loopback address each)');

const log = (line: string) => {
  if (!args.json) process.stderr.write(`[bench:scale] ${new Date().toISOString().slice(11, 19)} ${line}\n`);
};
const cleanups = new BenchCleanups(log);
const stopping = () => cleanups.stopping;

/** 127.2.0.0/16, one address per pod, .1–.250 in each /24 (no test uses this range). */
const podIp = (i: number) => `127.2.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const setName = (s: number) => `set-${s}`;
const podName = (s: number, p: number) => `set-${s}-pod-${p}`;

/** Samples a process every second until stopped: CPU at both ends, RSS max. */
function sampleProcess(pid: number): { stop(): Promise<{ before: ProcFacts; after: ProcFacts; rssMbMax: number; rssMbMean: number }> } {
  let running = true;
  const rss: number[] = [];
  const done = (async () => {
    const before = await procStat(pid);
    rss.push(before.rssMb);
    while (running) {
      await sleep(1000);
      rss.push((await procStat(pid)).rssMb);
    }
    const after = await procStat(pid);
    rss.push(after.rssMb);
    return { before, after, rssMbMax: Math.max(...rss), rssMbMean: Math.round((rss.reduce((a, b) => a + b, 0) / rss.length) * 10) / 10 };
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

/**
 * Who else used the CPUs over a period: the whole machine (busy share of all its CPUs) and the
 * agent fleet's processes (CPUs' worth). When the machine is saturated, the fleet's share is
 * what the harness itself takes from the operator and the API server.
 */
function sampleMachine(fleetPids: readonly number[]): { stop(): Promise<{ machineBusy: number; fleetCpus: number }> } {
  const fleetCpu = async () => (await Promise.all(fleetPids.map((pid) => procStat(pid)))).reduce((a, p) => a + p.cpuSeconds, 0);
  const start = Promise.all([machineCpu(), fleetCpu(), performance.now()] as const);
  return {
    stop: async () => {
      const [m0, f0, t0] = await start;
      const [m1, f1] = await Promise.all([machineCpu(), fleetCpu()]);
      const seconds = (performance.now() - t0) / 1000;
      const round = (v: number) => Math.round(v * 1000) / 1000;
      return { machineBusy: round((m1.busySeconds - m0.busySeconds) / (m1.totalSeconds - m0.totalSeconds)), fleetCpus: round((f1 - f0) / seconds) };
    },
  };
}

function cpuPart(s: { before: ProcFacts; after: ProcFacts; rssMbMax: number; rssMbMean: number }, seconds: number) {
  const cpu = Math.round((s.after.cpuSeconds - s.before.cpuSeconds) * 100) / 100;
  return { cpuSeconds: cpu, cpuUtilisation: Math.round((cpu / seconds) * 1000) / 1000, rssMbMax: s.rssMbMax, rssMbMean: s.rssMbMean, rssMbEnd: s.after.rssMb, vmHwmMb: s.after.hwmMb };
}

/**
 * How often the benchmark reads the operator's /metrics for the queue depth. Prometheus scrapes
 * every 15–60 s; reading 10,000 pods' series every second cost the operator more CPU than
 * anything a deployment asks of it, so the benchmark reads as often as a fast Prometheus would.
 */
const QUEUE_SAMPLE_MS = 5000;

/** The operator's work queue over a period: depth sampled every QUEUE_SAMPLE_MS, latency from its histogram. */
function sampleQueue(metricsAddr: string): { stop(): Promise<Record<string, unknown>> } {
  let running = true;
  const depths: number[] = [];
  const done = (async () => {
    const first = await operatorMetrics(metricsAddr);
    while (running) {
      const text = await operatorMetrics(metricsAddr).catch(() => '');
      const depth = samplesOf(text, 'workqueue_depth').reduce((a, [, v]) => a + v, 0);
      depths.push(depth);
      await sleep(QUEUE_SAMPLE_MS);
    }
    const last = await operatorMetrics(metricsAddr);
    const latency = (metric: string) => {
      const b0 = histogramBuckets(first, metric);
      const b1 = histogramBuckets(last, metric);
      const buckets = [...b1].map(([le, count]) => ({ le, count: count - (b0.get(le) ?? 0) }));
      const ms = (q: number) => {
        const v = histogramQuantile(buckets, q);
        return v === null ? null : Math.round(v * 10000) / 10;
      };
      return { observations: buckets.find((b) => !Number.isFinite(b.le))?.count ?? 0, p50Ms: ms(0.5), p99Ms: ms(0.99) };
    };
    return {
      depthMax: depths.length ? Math.max(...depths) : null,
      depthSamples: depths.length,
      queueLatency: latency('workqueue_queue_duration_seconds'),
      workDuration: latency('workqueue_work_duration_seconds'),
      retries: samplesOf(last, 'workqueue_retries_total').reduce((a, [, v]) => a + v, 0) - samplesOf(first, 'workqueue_retries_total').reduce((a, [, v]) => a + v, 0),
    };
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

/** Requests the operator made: the API server's counts less the benchmark's own. */
function operatorRequests(before: Map<string, number>, after: Map<string, number>, own: Map<string, number>) {
  const all = counterDelta(before, after, own);
  // apiserver_request_total has no user label: the API server's own loopback clients (lease
  // renewals, its informers' watches and relists) are told apart by resource.
  const byRequest = Object.fromEntries([...all].filter(([k]) => OPERATOR_RESOURCES.has(k.split(' ')[1]!.split('/')[0]!)).sort(([a], [b]) => a.localeCompare(b)));
  const total = Object.values(byRequest).reduce((a, b) => a + b, 0);
  const lists = Object.fromEntries(Object.entries(byRequest).filter(([k]) => k.startsWith('LIST ')));
  return { byRequest, total, lists };
}

let exitCode = 0;
try {
  const testbed = await startBenchTestbed(args.dir, log, cleanups);
  const kc: KubeConfig = testbed.adminKubeConfig();
  const certs = await createDevCerts();
  const files = await writeDevCerts(join(args.dir, 'certs'), certs);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: 'default' } } });

  const pods = Array.from({ length: PODS }, (_, i) => ({ set: Math.floor(i / PODS_PER_SET), name: podName(Math.floor(i / PODS_PER_SET), i % PODS_PER_SET), ip: podIp(i) }));
  let t0 = Date.now();
  const fleet = await AgentFleet.start({ namespace: NAMESPACE, port: AGENT_PORT, ca: certs.ca, pods, processes: Math.max(1, Math.ceil(PODS / AGENTS_PER_PROCESS)) });
  cleanups.push(() => fleet.stop());
  const agentStartMs = Date.now() - t0;
  log(`${PODS} agents (certificates issued, listening) in ${agentStartMs} ms`);

  const fakePods = new FakePods(kc, NAMESPACE);
  t0 = Date.now();
  await mapBounded(pods, 16, (p) => fakePods.create({ name: p.name, ip: p.ip, labels: { [SET_LABEL]: setName(p.set) } }), stopping);
  const podCreateMs = Date.now() - t0;
  log(`${PODS} Pod objects Running in ${podCreateMs} ms`);

  const nodeArgs = [...OPERATOR_NODE_FLAGS];
  const build = await buildBundledTko(log);
  cleanups.push(() => rm(build.dir, { recursive: true, force: true }));
  const op = await startBenchOperator({ kubeconfig: testbed.kubeconfig, certs: files, namespaces: [NAMESPACE], flags: OPERATOR_FLAGS, nodeArgs, entry: build.entry });
  cleanups.push(() => op.stop());
  const startupMemory = await memoryBreakdown(op.pid, await operatorMetrics(op.metrics));

  const tks = new TicketKeySets(kc, NAMESPACE);
  const own = new Map<string, number>();
  const count = (k: string, n = 1) => own.set(k, (own.get(k) ?? 0) + n);
  t0 = Date.now();
  await mapBounded(
    Array.from({ length: SETS }, (_, s) => s),
    16,
    (s) =>
      tks.create(
        ticketKeySet(setName(s), {
          selector: { matchLabels: { [SET_LABEL]: setName(s) } },
          rotation: { interval: '24h' }, // only rotate-now rotates
          ticketLifetime: '1m',
          promotion: { policy: 'AllPodsAcknowledged', timeout: '2m' },
          agent: { port: AGENT_PORT },
        }),
      ),
    stopping,
  );
  const setCreateMs = Date.now() - t0;
  log(`${SETS} TicketKeySets created in ${setCreateMs} ms`);

  const converged = (t: TicketKeySet | undefined, notActive?: string) =>
    t?.status?.phase === 'Stable' && t.status.pods?.converged === PODS_PER_SET && t.status.pods?.total === PODS_PER_SET && (notActive === undefined || (t.status.activeKey?.fingerprint ?? notActive) !== notActive);
  const listSets = async () => {
    count('LIST ticketkeysets');
    return new Map((await tks.list()).items.map((t) => [t.metadata!.name!, t]));
  };
  for (;;) {
    if (stopping()) throw new Error('stopped');
    const all = await listSets();
    const done = [...all.values()].filter((t) => converged(t)).length;
    if (done === SETS) break;
    if (Date.now() - t0 > 30 * 60_000) throw new Error(`first rings: ${done}/${SETS} sets converged after 30 min`);
    log(`first rings: ${done}/${SETS} sets converged`);
    await sleep(5000);
  }
  const firstRingsMs = Date.now() - t0;
  log(`first rings on every pod of every set in ${firstRingsMs} ms`);

  // ---- idle ----
  await sleep(5000); // the status writes of the last sets settle
  let requestsBefore = await apiserverRequests(kc);
  own.clear();
  let proc = sampleProcess(op.pid);
  let machine = sampleMachine(fleet.pids);
  let queue = sampleQueue(op.metrics);
  t0 = Date.now();
  log(`idle for ${IDLE_SECONDS} s`);
  await sleep(IDLE_SECONDS * 1000);
  const idleSeconds = (Date.now() - t0) / 1000;
  const idleProc = cpuPart(await proc.stop(), idleSeconds);
  const idleMachine = await machine.stop();
  const idleMemory = await memoryBreakdown(op.pid, await operatorMetrics(op.metrics));
  const idleQueue = await queue.stop();
  const idleRequests = operatorRequests(requestsBefore, await apiserverRequests(kc), own);
  log(`idle: RSS max ${idleProc.rssMbMax} MB, CPU ${idleProc.cpuUtilisation}, ${idleRequests.total} API requests`);

  // ---- wave ----
  const baseline = [...fleet.active];
  const activeBefore = new Map([...(await listSets())].map(([name, t]) => [name, t.status?.activeKey?.fingerprint ?? '']));
  requestsBefore = await apiserverRequests(kc);
  own.clear();
  proc = sampleProcess(op.pid);
  machine = sampleMachine(fleet.pids);
  queue = sampleQueue(op.metrics);
  const waveStart = Date.now();
  const patchedAt = new Array<number>(SETS).fill(NaN);
  const agentsDoneAt = new Array<number>(SETS).fill(NaN);
  const statusDoneAt = new Array<number>(SETS).fill(NaN);
  const patching = mapBounded(
    Array.from({ length: SETS }, (_, s) => s),
    32,
    async (s) => {
      count('PATCH ticketkeysets');
      await tks.mergePatch(setName(s), { metadata: { annotations: { [ANNOTATION_ROTATE_NOW]: `bench-scale-${Date.now()}` } } });
      patchedAt[s] = Date.now();
    },
    stopping,
  );
  // Agents: every set whose pods all hold a ring with a new active key, at the moment the last
  // of them took it (as its fleet process saw it).
  let pendingSets = Array.from({ length: SETS }, (_, s) => s);
  const agentsWatch = (async () => {
    while (pendingSets.length > 0 && !stopping() && Date.now() - waveStart < WAVE_DEADLINE_MS) {
      pendingSets = pendingSets.filter((s) => {
        let last = 0;
        for (let p = 0; p < PODS_PER_SET; p++) {
          const i = s * PODS_PER_SET + p;
          if (fleet.active[i] === '' || fleet.active[i] === baseline[i]) return true;
          last = Math.max(last, fleet.changedAt[i]!);
        }
        agentsDoneAt[s] = last;
        return false;
      });
      await sleep(100);
    }
  })();
  // Status: every set Stable, every pod converged, a new active key; read alongside the agents
  // (a LIST of every set every 5 s: the API server serves the operator too).
  const statusWatch = (async () => {
    for (;;) {
      const now = Date.now();
      const all = await listSets();
      for (let s = 0; s < SETS; s++) if (Number.isNaN(statusDoneAt[s]) && converged(all.get(setName(s)), activeBefore.get(setName(s)) ?? '')) statusDoneAt[s] = now;
      const left = statusDoneAt.filter(Number.isNaN).length;
      if (left === 0 || stopping() || now - waveStart > WAVE_DEADLINE_MS) break;
      await sleep(5000);
    }
  })();
  await patching;
  const patchAllMs = Date.now() - waveStart;
  log(`rotate-now sent to ${SETS} sets in ${patchAllMs} ms`);
  await agentsWatch;
  log(`agents: ${SETS - pendingSets.length}/${SETS} sets promoted on every pod`);
  await statusWatch;
  const waveSeconds = (Date.now() - waveStart) / 1000;
  const waveProc = cpuPart(await proc.stop(), waveSeconds);
  const waveMachine = await machine.stop();
  const waveMemory = await memoryBreakdown(op.pid, await operatorMetrics(op.metrics));
  const waveQueue = await queue.stop();
  const waveRequests = operatorRequests(requestsBefore, await apiserverRequests(kc), own);
  const fromPatch = (at: number[]) => at.flatMap((t, s) => (Number.isNaN(t) ? [] : [Math.round(t - patchedAt[s]!)]));
  const fromWave = (at: number[]) => at.flatMap((t) => (Number.isNaN(t) ? [] : [Math.round(t - waveStart)]));
  const agentsConverged = fromPatch(agentsDoneAt).length;
  const statusConverged = fromPatch(statusDoneAt).length;
  const allConvergedMs = statusConverged === SETS ? Math.max(...fromWave(statusDoneAt)) : null;
  log(`wave: ${statusConverged}/${SETS} sets converged (status) in ${allConvergedMs ?? '-'} ms; RSS max ${waveProc.rssMbMax} MB`);

  const operatorWarnings: Record<string, number> = {};
  for (const line of op.logs()) {
    try {
      const l = JSON.parse(line) as { level?: string; message?: string };
      const key = `${l.level}: ${String(l.message).slice(0, 120)}`;
      if (l.level === 'warn' || l.level === 'error') operatorWarnings[key] = (operatorWarnings[key] ?? 0) + 1;
    } catch {
      // not a JSON line
    }
  }
  const rssMbMax = Math.max(idleProc.rssMbMax, waveProc.rssMbMax);
  const result = {
    benchmark: 'scale',
    date: new Date().toISOString(),
    ...(await machineFacts()),
    method:
      'One test bed (kube-apiserver + etcd) and one tko operator process (the bundle, as in the image, default flags, the Node flags its ' +
      'container starts it with, OPERATOR_NODE_FLAGS). sets x podsPerSet Pod objects in one namespace (status written as the kubelet would), as many agents in ' +
      'benchmark child processes (bench/agent-fleet.ts: at most 4000 agents each) (startAgent + in-memory ATS bridge, each on its own 127.2.x.y with real mutual TLS and a per-pod ' +
      'certificate; without the Node process metrics, which would be one event-loop-delay timer and GC observer per agent in a process shared by thousands); one TicketKeySet per podsPerSet pods (AllPodsAcknowledged). idle: the operator with nothing to do but its ' +
      'resyncs. wave: a rotate-now on every set; per set, from its own PATCH until every agent of the set holds the promoted ring ' +
      '(as the fleet processes saw it, reported every 50 ms) and until its status shows Stable, every pod converged and a new active key (LIST every 5 s). ' +
      'Operator CPU/RSS from /proc every second; work queue depth from its /metrics every 5 s, queue latency from its histogram; ' +
      'API requests from apiserver_request_total less the benchmark\'s own. The benchmark, its agents, the API server, etcd and the ' +
      'operator share the machine\'s CPUs.',
    config: { sets: SETS, podsPerSet: PODS_PER_SET, pods: PODS, idleSeconds: IDLE_SECONDS, operatorNodeFlags: OPERATOR_NODE_FLAGS, operatorFlags: OPERATOR_FLAGS },
    setup: { agentStartMs, podCreateMs, setCreateMs, firstRingsMs, operatorMemoryAtStart: startupMemory },
    idle: { seconds: Math.round(idleSeconds), operator: idleProc, machine: idleMachine, memoryAtEnd: idleMemory, queue: idleQueue, apiRequestsPerMinute: Object.fromEntries(Object.entries(idleRequests.byRequest).map(([k, v]) => [k, Math.round((v / idleSeconds) * 600) / 10])), lists: idleRequests.lists },
    wave: {
      seconds: Math.round(waveSeconds),
      rotateNowSentMs: patchAllMs,
      setsConvergedOnAgents: agentsConverged,
      setsConvergedInStatus: statusConverged,
      allConvergedMs,
      agentsPromotedMs: dist(fromPatch(agentsDoneAt)),
      statusConvergedMs: dist(fromPatch(statusDoneAt)),
      operator: waveProc,
      machine: waveMachine,
      memoryAtEnd: waveMemory,
      queue: waveQueue,
      apiRequests: waveRequests.byRequest,
      apiRequestsTotal: waveRequests.total,
      apiRequestsPerRotation: Math.round((waveRequests.total / SETS) * 100) / 100,
      apiRequestsPerPodTouched: Math.round((waveRequests.total / PODS) * 1000) / 1000,
      lists: waveRequests.lists,
    },
    operatorWarnings,
    targets: {
      operatorRssMb: { target: TARGET.operatorRssMb, measured: rssMbMax, met: rssMbMax <= TARGET.operatorRssMb },
      waveConvergedSeconds: { target: TARGET.waveConvergedSeconds, measured: allConvergedMs === null ? null : Math.round(allConvergedMs / 100) / 10, met: allConvergedMs !== null && allConvergedMs <= TARGET.waveConvergedSeconds * 1000 },
      noListStorm: { target: 'no LIST by the operator during the wave', measured: Object.values(waveRequests.lists).reduce((a, b) => a + b, 0), met: Object.keys(waveRequests.lists).length === 0 },
    },
  };
  await writeResult(RESULT_FILE, result, args.json, log);
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await cleanups.run();
}
process.exit(exitCode);
