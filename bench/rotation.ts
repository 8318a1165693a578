// Rotation benchmark: AllPodsAcknowledged (two-phase) against Immediate (the baseline other
// systems use), in one run, on real parts.
//
//   npm run bench:rotation -- [--json] [--interval 12s] [--lag 20s] [--recovery 30s]
//
// One test bed (kube-apiserver + etcd), one real `tko operator` watching two namespaces, and in
// each namespace a TicketKeySet (identical but for promotion.policy) selecting its own 3 pods,
// each a real ATS 9 (bridge plugin) plus a real `tko agent` on its own loopback IP. Both
// scenarios run at the same time, so they share the machine's load and clock.
//
// Per scenario: once every pod holds the first ring, four TLS clients (session tickets, one
// servername for all pods, as behind a load balancer) run continuously, for TLS 1.3 and TLS 1.2
// each: a "chain" (one long-lived client, each connection to the next pod round-robin offering
// the session of the previous connection) and "newClientPairs" (new clients arriving: a full
// handshake on one pod, then one resumption on the next pod).
// After one ordinary rotation the third pod LAGS: its agent is stopped for --lag (covering the
// next scheduled rotation). The Pod stays Ready and its ATS keeps serving with the ring it holds,
// as in a pod whose sidecar is slow or partitioned. Then the agent is started again and the run
// continues for --recovery (longer if the pods have not converged yet, at most twice as long).
//
// failed = a resumption was offered and the server made a full handshake instead.
// stageToPromoteMs = activeKey.promotedAt - activeKey.createdAt from the TicketKeySet status
// (Immediate: 0 by construction). Results: bench/results/rotation.json (and stdout with --json).
// Key bytes and key names never leave the processes that hold them; only counts are reported.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { TicketKeySet } from '../src/api/index.ts';
import { parseDuration } from '../src/core/duration.ts';
import { Fleet } from '../test/helpers/fleet.ts';
import { spawnOperator, ticketKeySetEvents, type SpawnedOperator } from '../test/helpers/operator.ts';
import { ticketKeySet, TicketKeySets } from '../test/helpers/ticket-key-sets.ts';
import { tlsProbe, type TlsVersion } from '../test/helpers/tls-probe.ts';
import { REPO_ROOT, startTestbed, stopTestbed } from '../test/testbed/testbed.ts';
import { ensureTestbedBinaries } from '../test/testbed/tools.ts';

const RESULT_FILE = join(REPO_ROOT, 'bench', 'results', 'rotation.json');

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    interval: { type: 'string', default: '12s' },
    'promotion-timeout': { type: 'string', default: '4s' },
    'ticket-lifetime': { type: 'string', default: '1m' },
    lag: { type: 'string', default: '20s' },
    recovery: { type: 'string', default: '30s' },
    'probe-gap': { type: 'string', default: '20ms' },
    dir: { type: 'string', default: join(REPO_ROOT, '.tko', 'bench-rotation') },
  },
});
const INTERVAL = args.interval;
const PROMOTION_TIMEOUT = args['promotion-timeout'];
const TICKET_LIFETIME = args['ticket-lifetime'];
const LAG_MS = parseDuration(args.lag);
const RECOVERY_MS = parseDuration(args.recovery);
const PROBE_GAP_MS = parseDuration(args['probe-gap']);
const AGENT_PORT = 19643;
const TLS_PORT = 18443;
const NAME = 'edge';
const SERVERNAME = 'edge.bench';
const MAX_PROBES_PER_CHAIN = 20_000; // bounded loops, whatever the timing
const SCENARIO_CAP_MS = 4 * 60_000;

type Policy = 'AllPodsAcknowledged' | 'Immediate';
type Window = 'baseline' | 'lag' | 'recovery';
const WINDOWS: Window[] = ['baseline', 'lag', 'recovery'];
type ClientKind = 'chain' | 'newClientPairs';
const CLIENTS: Array<{ version: TlsVersion; kind: ClientKind; offset: number }> = [
  { version: '1.3', kind: 'chain', offset: 0 },
  { version: '1.2', kind: 'chain', offset: 1 },
  { version: '1.3', kind: 'newClientPairs', offset: 2 },
  { version: '1.2', kind: 'newClientPairs', offset: 0 },
];
const clientName = (version: TlsVersion, kind: ClientKind) => `TLS${version} ${kind}`;


const log = (line: string) => {
  if (!args.json) process.stderr.write(`[bench:rotation] ${line}\n`);
};

interface Tally {
  attempts: number;
  resumed: number;
  failed: number;
}
const tally = (): Tally => ({ attempts: 0, resumed: 0, failed: 0 });

interface RotationRecord {
  createdAtMs: number;
  promotedAtMs: number;
  stageToPromoteMs: number;
  window: Window;
}

interface Scenario {
  policy: Policy;
  namespace: string;
  ips: string[];
  podNames: string[];
  lagPod: string;
  fleet?: Fleet;
  tks?: TicketKeySets;
  window: Window;
  measureStart: number;
  lagStart: number;
  lagEnd: number;
  stop: boolean;
  total: Tally;
  byClient: Record<string, Tally>;
  /** Per client: resumed connections on which the server issued a new ticket. */
  ticketsOnResumption: Record<string, number>;
  /** Per client: how many distinct ticket keys issued its tickets (a count, never the names). */
  ticketKeysSeen: Record<string, number>;
  byWindow: Record<Window, Tally>;
  failuresByPod: Record<string, number>;
  probeErrors: number;
  /** Probe errors (connection-level, no TLS result) by window and message, a few distinct ones. */
  probeErrorSamples: Record<string, number>;
  /** When each failed resumption started (ms since epoch), to attribute it to a rotation. */
  failureTimes: number[];
  rotations: Map<string, RotationRecord>;
  stagedSeen: Map<string, number>;
  stagingHeldAtLagEnd: boolean;
  degradedNamedLaggard: boolean;
  convergedAfterLagMs: number | undefined;
  last?: TicketKeySet;
}

function scenario(policy: Policy, namespace: string, ipBase: number): Scenario {
  const podNames = ['ats-0', 'ats-1', 'ats-2'];
  return {
    policy,
    namespace,
    ips: podNames.map((_, i) => `127.0.0.${ipBase + i}`),
    podNames,
    lagPod: 'ats-2',
    window: 'baseline',
    measureStart: 0,
    lagStart: 0,
    lagEnd: 0,
    stop: false,
    total: tally(),
    byClient: Object.fromEntries(CLIENTS.map((c) => [clientName(c.version, c.kind), tally()])),
    ticketsOnResumption: {},
    ticketKeysSeen: {},
    byWindow: { baseline: tally(), lag: tally(), recovery: tally() },
    failuresByPod: Object.fromEntries(podNames.map((n) => [n, 0])),
    probeErrors: 0,
    probeErrorSamples: {},
    failureTimes: [],
    rotations: new Map(),
    stagedSeen: new Map(),
    stagingHeldAtLagEnd: false,
    degradedNamedLaggard: false,
    convergedAfterLagMs: undefined,
  };
}

const scenarios = [scenario('AllPodsAcknowledged', 'bench-two-phase', 141), scenario('Immediate', 'bench-immediate', 146)];

// ---- cleanup (also on SIGINT/SIGTERM) ----
const cleanups: Array<() => Promise<unknown>> = [];
let stopping = false;
async function cleanup(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const s of scenarios) s.stop = true;
  for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping everything…`);
    void cleanup().then(() => process.exit(130));
  });
}

const ms = (t: string | Date | undefined): number => (t === undefined ? NaN : new Date(t).getTime());

/**
 * One TLS client of one TLS version. chain: one long-lived client, each connection to the next
 * pod round-robin offering the session of the previous connection. newClientPairs: a stream of
 * new clients, each a full handshake on one pod then one resumption on the next pod.
 */
async function client(s: Scenario, version: TlsVersion, kind: ClientKind, offset: number): Promise<void> {
  const name = clientName(version, kind);
  const keyNames = new Set<string>(); // counted only, never reported
  let session: Buffer | undefined;
  for (let i = 0; i < MAX_PROBES_PER_CHAIN && !s.stop; i++) {
    const idx = (kind === 'chain' ? i + offset : Math.floor(i / 2) + (i % 2) + offset) % s.ips.length;
    if (kind === 'newClientPairs' && i % 2 === 0) session = undefined;
    const window = s.window;
    const offered = session !== undefined;
    const started = Date.now();
    try {
      const r = await tlsProbe({ host: s.ips[idx]!, port: TLS_PORT, tls: version, servername: SERVERNAME, timeoutMs: 3000, ...(session ? { session } : {}) });
      if (offered && !s.stop) {
        for (const t of [s.total, s.byClient[name]!, s.byWindow[window]]) {
          t.attempts++;
          if (r.resumed) t.resumed++;
          else t.failed++;
        }
        if (!r.resumed) {
          s.failuresByPod[s.podNames[idx]!]!++;
          s.failureTimes.push(started);
        }
        if (r.resumed && r.newSession) s.ticketsOnResumption[name] = (s.ticketsOnResumption[name] ?? 0) + 1;
      }
      if (r.ticketKeyName) keyNames.add(r.ticketKeyName);
      s.ticketKeysSeen[name] = keyNames.size;
      if (r.newSession) session = r.newSession;
    } catch (err) {
      s.probeErrors++;
      const what = `${window}: ${(err as Error).message.split('\n')[0]!.slice(0, 160)}`;
      if (what in s.probeErrorSamples || Object.keys(s.probeErrorSamples).length < 8) s.probeErrorSamples[what] = (s.probeErrorSamples[what] ?? 0) + 1;
      await sleep(200); // a refused connection returns at once: do not spin
    }
    await sleep(PROBE_GAP_MS);
  }
}

/** Watches the TicketKeySet status: rotations, staged keys, Degraded naming the laggard. */
async function watchStatus(s: Scenario): Promise<void> {
  while (!s.stop) {
    try {
      const t = await s.tks!.get(NAME);
      s.last = t;
      const st = t.status;
      const active = st?.activeKey;
      if (s.measureStart > 0 && active?.promotedAt && ms(active.createdAt) >= s.measureStart && !s.rotations.has(active.fingerprint)) {
        const promotedAtMs = ms(active.promotedAt);
        const window: Window = s.lagStart && promotedAtMs >= s.lagStart ? (s.lagEnd && promotedAtMs >= s.lagEnd ? 'recovery' : 'lag') : 'baseline';
        s.rotations.set(active.fingerprint, { createdAtMs: ms(active.createdAt), promotedAtMs, stageToPromoteMs: promotedAtMs - ms(active.createdAt), window });
        log(`${s.policy}: key promoted after ${promotedAtMs - ms(active.createdAt)} ms (window ${window})`);
      }
      if (s.measureStart > 0 && st?.stagedKey && !s.stagedSeen.has(st.stagedKey.fingerprint)) s.stagedSeen.set(st.stagedKey.fingerprint, ms(st.stagedKey.createdAt));
      if (s.window === 'recovery' && s.convergedAfterLagMs === undefined && converged(t, 3)) s.convergedAfterLagMs = Date.now() - s.lagEnd;
      if (s.window === 'lag') {
        const degraded = st?.conditions?.find((c) => c.type === 'Degraded');
        if (degraded?.status === 'True' && (degraded.message ?? '').includes(s.lagPod)) s.degradedNamedLaggard = true;
      }
    } catch {
      // the API server is busy; next poll
    }
    await sleep(200);
  }
}

const converged = (t: TicketKeySet | undefined, n: number) =>
  t?.status?.phase === 'Stable' && t.status.pods?.converged === n && t.status.pods?.total === n;

async function until(what: string, s: Scenario, cond: () => boolean, capMs: number): Promise<boolean> {
  const end = Date.now() + capMs;
  while (!s.stop && Date.now() < end) {
    if (cond()) return true;
    await sleep(100);
  }
  if (!s.stop) log(`${s.policy}: gave up waiting for ${what} after ${capMs} ms`);
  return false;
}

async function runScenario(s: Scenario): Promise<void> {
  const started = Date.now();
  const created = Date.now();
  await s.tks!.create(
    ticketKeySet(NAME, {
      selector: { matchLabels: { app: 'edge' } },
      rotation: { interval: INTERVAL },
      ticketLifetime: TICKET_LIFETIME,
      promotion: { policy: s.policy, timeout: PROMOTION_TIMEOUT },
      agent: { port: AGENT_PORT },
    }),
  );
  const watcher = watchStatus(s);
  // Probe only once every pod holds the first ring (ATS's own random start-up key says nothing).
  await until('the first ring on every pod', s, () => converged(s.last, 3), 60_000);
  log(`${s.policy}: first ring on 3 pods after ${Date.now() - created} ms; clients start`);
  s.measureStart = Date.now();
  const chains = CLIENTS.map((c) => client(s, c.version, c.kind, c.offset));

  // One ordinary rotation first (baseline), then the lag starts at once, so the lag window
  // covers the next scheduled rotation (due one interval after this promotion).
  await until('a first rotation', s, () => s.rotations.size >= 1 && converged(s.last, 3), SCENARIO_CAP_MS / 2);
  if (s.stop) return;
  s.lagStart = Date.now();
  s.window = 'lag';
  await s.fleet!.stopAgent(s.lagPod);
  log(`${s.policy}: agent of ${s.lagPod} stopped for ${LAG_MS} ms (pod stays Ready, its ATS keeps serving)`);
  await sleep(LAG_MS);
  s.stagingHeldAtLagEnd = s.last?.status?.phase === 'Staging';
  s.lagEnd = Date.now();
  s.window = 'recovery';
  if (!s.stop) await s.fleet!.startAgent(s.lagPod);
  log(`${s.policy}: agent of ${s.lagPod} started again`);
  await sleep(RECOVERY_MS);
  if (!converged(s.last, 3)) await until('convergence after the lag', s, () => converged(s.last, 3), RECOVERY_MS);
  s.stop = true;
  await Promise.all([...chains, watcher]);
  log(`${s.policy}: done in ${Date.now() - started} ms`);
}

/** The operator's Events about the scenario's TicketKeySet, counted by reason. */
async function eventCounts(kc: KubeConfig, s: Scenario): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of await ticketKeySetEvents(kc, s.namespace, NAME)) counts[e.reason] = (counts[e.reason] ?? 0) + e.count;
  return counts;
}

function summary(values: number[]) {
  if (values.length === 0) return { n: 0 };
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, min: s[0], max: s.at(-1), mean: Math.round(s.reduce((a, b) => a + b, 0) / s.length) };
}

function report(s: Scenario, events: Record<string, number>) {
  const rotations = [...s.rotations.values()].sort((a, b) => a.createdAtMs - b.createdAtMs);
  const inWindow = (w: Window) => rotations.filter((r) => r.window === w).length;
  const stagedDuringLag = [...s.stagedSeen.values()].filter((t) => t >= s.lagStart && t < s.lagEnd).length;
  const keysCreatedDuringLag =
    s.policy === 'Immediate' ? rotations.filter((r) => r.createdAtMs >= s.lagStart && r.createdAtMs < s.lagEnd).length : stagedDuringLag;
  const promotedDuringLag = inWindow('lag');
  const completed = rotations.length;
  const perRotation = (n: number, d: number) => (d > 0 ? Math.round((n / d) * 100) / 100 : null);
  const rate = (t: Tally) => ({ ...t, failureRate: t.attempts > 0 ? Math.round((t.failed / t.attempts) * 10000) / 10000 : 0 });
  return {
    resumption: {
      ...rate(s.total),
      probeErrors: s.probeErrors,
      probeErrorSamples: s.probeErrorSamples,
      byClient: Object.fromEntries(
        Object.entries(s.byClient).map(([n, t]) => [n, { ...rate(t), ticketsIssuedOnResumption: s.ticketsOnResumption[n] ?? 0, distinctTicketKeys: s.ticketKeysSeen[n] ?? 0 }]),
      ),
      byWindow: Object.fromEntries(WINDOWS.map((w) => [w, rate(s.byWindow[w])])),
      failuresByPod: s.failuresByPod,
    },
    rotations: {
      completed,
      started: s.policy === 'Immediate' ? completed : new Set([...s.stagedSeen.keys(), ...s.rotations.keys()]).size,
      promotedByWindow: Object.fromEntries(WINDOWS.map((w) => [w, inWindow(w)])),
      stageToPromoteMs: summary(rotations.map((r) => r.stageToPromoteMs)),
      // Each rotation in order: its window, stage-to-promote time, and the failed resumptions
      // from its promotion until the next promotion (failures before the first: beforeFirst).
      each: rotations.map((r, i) => ({
        window: r.window,
        stageToPromoteMs: r.stageToPromoteMs,
        failuresUntilNextPromotion: s.failureTimes.filter((t) => t >= r.promotedAtMs && t < (rotations[i + 1]?.promotedAtMs ?? Infinity)).length,
      })),
      failuresBeforeFirstPromotion: s.failureTimes.filter((t) => t < (rotations[0]?.promotedAtMs ?? Infinity)).length,
    },
    failuresPerRotation: perRotation(s.total.failed, completed),
    lag: {
      pod: s.lagPod,
      durationMs: s.lagEnd - s.lagStart,
      keysCreatedDuringLag,
      promotionsDuringLag: promotedDuringLag,
      stagedKeyHeldAtLagEnd: s.stagingHeldAtLagEnd,
      degradedNamedLaggard: s.degradedNamedLaggard,
      laggardBlockedPromotion: keysCreatedDuringLag > 0 && promotedDuringLag === 0 && s.stagingHeldAtLagEnd,
      failuresDuringLag: s.byWindow.lag.failed,
      failuresPerRotationDuringLag: perRotation(s.byWindow.lag.failed, keysCreatedDuringLag),
    },
    allPodsOnCurrentRingMsAfterAgentReturned: s.convergedAfterLagMs ?? null,
    convergedAtEnd: converged(s.last, 3),
    events,
  };
}

let exitCode = 0;
try {
  await rm(args.dir, { recursive: true, force: true });
  await mkdir(args.dir, { recursive: true });
  const binaries = await ensureTestbedBinaries({ log });
  const testbed = await startTestbed({ dir: join(args.dir, 'testbed'), binaries, log });
  cleanups.push(() => rm(args.dir, { recursive: true, force: true }));
  cleanups.push(() => stopTestbed(testbed.dir));
  process.env.TKO_TEST_KUBECONFIG = testbed.kubeconfig; // spawnOperator dials this cluster
  const kc = testbed.adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);

  for (const s of scenarios) {
    await core.createNamespace({ body: { metadata: { name: s.namespace } } });
    await core.createNamespacedServiceAccount({ namespace: s.namespace, body: { metadata: { name: 'default' } } });
    // The operator has one client certificate and one CA: every fleet's agent certificates
    // come from the first fleet's CA.
    const first = scenarios[0]!.fleet;
    const fleet = await Fleet.create({ kc, namespace: s.namespace, port: AGENT_PORT, ...(first ? { trust: first } : {}) });
    s.fleet = fleet;
    cleanups.push(() => fleet.close());
    s.tks = new TicketKeySets(kc, s.namespace);
  }
  // Pods of both scenarios, interleaved, so neither gets a warmer start. No readiness gates:
  // a pod whose agent lags stays Ready (the case the gate is meant to hold back on).
  for (let i = 0; i < 3; i++) {
    for (const s of scenarios) {
      if (stopping) break;
      await s.fleet!.add(s.podNames[i]!, { ip: s.ips[i]!, labels: { app: 'edge' }, ats: true, tlsPort: TLS_PORT });
      log(`${s.policy}: pod ${s.podNames[i]} (ATS + agent on ${s.ips[i]})`);
    }
  }
  const operator: SpawnedOperator = await spawnOperator({
    certs: scenarios[0]!.fleet!.files,
    namespaces: scenarios.map((s) => s.namespace),
    leaderElect: false,
    logLevel: 'warn',
  });
  cleanups.push(() => operator.stop());
  log(`operator running (pid ${operator.pid}); both scenarios start`);

  await Promise.all(scenarios.map((s) => runScenario(s)));
  const results: Record<string, unknown> = {};
  for (const s of scenarios) {
    results[s.policy] = report(s, await eventCounts(kc, s).catch(() => ({})));
  }
  const two = results.AllPodsAcknowledged as ReturnType<typeof report>;
  const imm = results.Immediate as ReturnType<typeof report>;
  const result = {
    benchmark: 'rotation',
    date: new Date().toISOString(),
    node: process.version,
    ats: execFileSync('traffic_server', ['--version'], { encoding: 'utf8' }).split('\n').find((l) => /Traffic Server/.test(l))?.trim() ?? 'unknown',
    cpus: (await readFile('/proc/cpuinfo', 'utf8')).split('\n').filter((l) => l.startsWith('processor')).length,
    method:
      'Both policies in one run, at the same time, on one test bed (kube-apiserver + etcd) and one tko operator process ' +
      'watching two namespaces. Each namespace has a TicketKeySet identical but for promotion.policy, selecting its own 3 ' +
      'pods (Pod objects, each with a real ATS 9 + bridge plugin and a real tko agent on its own loopback IP; no readiness ' +
      'gates, so every pod stays Ready). Per scenario: after the first ring is on all pods, four TLS clients run ' +
      'continuously (session tickets, one servername), for TLS 1.3 and TLS 1.2 each: chain = one long-lived client connecting ' +
      'round-robin to the 3 pods, each connection offering the session of the previous one; newClientPairs = new clients, each ' +
      'a full handshake on one pod then one resumption on the next. Windows: baseline = until one ordinary rotation completed; lag = the agent of ats-2 stopped ' +
      `for ${LAG_MS} ms (covers the next scheduled rotation; its ATS keeps serving the ring it holds); recovery = agent ` +
      `started again, ${RECOVERY_MS} ms more (longer until converged). A failure = a resumption offered and a full handshake made.`,
    config: {
      podsPerPolicy: 3,
      rotationInterval: INTERVAL,
      promotionTimeout: PROMOTION_TIMEOUT,
      ticketLifetime: TICKET_LIFETIME,
      lagMs: LAG_MS,
      recoveryMs: RECOVERY_MS,
      probeGapMs: PROBE_GAP_MS,
      clients: CLIENTS.map((c) => clientName(c.version, c.kind)),
    },
    policies: results,
    expectation: { AllPodsAcknowledged: '0 failed resumptions; the lagging pod holds the key staged', Immediate: '> 0 failed resumptions during the lag' },
    pass: {
      allPodsAcknowledgedNoFailures: two.resumption.failed === 0,
      allPodsAcknowledgedBlockedByLaggard: two.lag.laggardBlockedPromotion,
      immediateFailsDuringLag: imm.lag.failuresDuringLag > 0,
      immediateNotBlocked: imm.lag.promotionsDuringLag > 0,
    },
  };
  await mkdir(dirname(RESULT_FILE), { recursive: true });
  await writeFile(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    for (const s of scenarios) {
      const r = results[s.policy] as ReturnType<typeof report>;
      log(
        `${s.policy}: ${r.resumption.attempts} resumptions offered, ${r.resumption.resumed} resumed, ${r.resumption.failed} failed ` +
          `(${r.lag.failuresDuringLag} during the lag); ${r.rotations.completed} rotations; blocked by laggard: ${r.lag.laggardBlockedPromotion}`,
      );
    }
    log(`written to ${RESULT_FILE}`);
  }
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
