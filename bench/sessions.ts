// Session sharing benchmark (issue 14) on real parts, at 3 pods.
//
//   npm run bench:sessions -- [--json] [--sessions 200] [--rate-sessions 100] [--gap 1s]
//                             [--load-seconds 10] [--load-rounds 3] [--concurrency 6]
//                             [--max-entries 10000] [--batch-interval 40ms] [--ts]
//                             [--agent-v8-flags "--no-turbofan"]
//
// One test bed (kube-apiserver + etcd), one real `tko operator`, one TicketKeySet with
// spec.sessionCache.sharing selecting 3 pods, each a real ATS 9 (bridge plugin with
// --session-fifo and --session-import-fifo) and a real `tko agent` (the same two FIFOs; run as the
// image runs it: the bundle,
// AGENT_NODE_OPTIONS, AGENT_V8_FLAGS; --ts runs src/cli/main.ts) on its own loopback IP
// (127.1.72.x). The clients are TLS 1.2 clients without ticket support (SSL_OP_NO_TICKET): they
// resume by session id only, from ATS's session cache, with one servername for every pod.
//
// propagation: a full handshake on pod A (the pods take turns), then B and C are offered the
// session back to back (each in its own loop) until each resumes it: the delay from A's
// handshake completing to the first resumption on each peer. An upper bound: each attempt is a
// handshake (a failed one is a full handshake, whose new session is shared too), so the
// resolution is one handshake. Cap 5 s (counted as notWithinCap).
// resumption rate: a full handshake on A, --gap later one resumption attempt on B and one on C
// (a client coming back through a load balancer); with sharing on and with sharing off.
// handshakes/s: --concurrency clients doing full TLS 1.2 handshakes (closed at once) round-robin
// on the 3 pods for --load-seconds, alternating sharing on and off (--load-rounds each; the
// operator switches it, the bench waits until every agent reports the new setting). Each new
// session is exported by its pod and inserted on the 2 others with sharing on: that is the cost.
// On one machine the agents' work competes with ATS and the clients for the same cores, so the
// CPU of the 3 traffic_servers, traffic_managers and agents per handshake (/proc) is reported too:
// the proxy's own cost, and what the agents need beside it; and the CPUs each group, the clients
// (this process) included, kept busy in each round (cpuCoresInRounds).
// agent memory at maxEntries: full handshakes with sharing on until every agent has handled
// (exported + received) at least --max-entries sessions; then VmRSS/VmHWM from /proc.
// --batch-interval sets spec.sessionCache.sharing.batchInterval (how often, at most, each agent
// reads and sends its pod's new sessions): the trade between propagation delay and CPU. A run at
// another interval than the default writes bench/results/sessions-batch-<interval>.json.
// Goals (issue 14): propagation p99 <= 100 ms; sharing costs <= 5 % of handshakes/s.
// Results: bench/results/sessions.json (and stdout with --json). No session or key bytes are reported.
import { execFileSync } from 'node:child_process';
import { constants as cryptoConstants } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import type { AgentClient } from '../src/agent/client.ts';
import { AGENT_NODE_OPTIONS, AGENT_V8_FLAGS } from '../src/agent/runtime-flags.ts';
import { DEFAULT_SESSION_SHARING_BATCH_INTERVAL } from '../src/api/defaults.ts';
import { PLUGIN_STATS } from '../src/contract/plugin-wire.ts';
import { parseDuration } from '../src/core/duration.ts';
import { Fleet, type FleetAgentProcess } from '../dev/fleet.ts';
import { spawnOperator } from '../dev/operator-process.ts';
import { REPO_ROOT } from '../dev/testbed/testbed.ts';
import { ticketKeySet, TicketKeySets } from '../dev/ticket-key-sets.ts';
import { buildBundledTko } from './build.ts';
import { BenchCleanups } from './cleanups.ts';
import { dist, machineFacts, procStat, writeResult, type ProcFacts } from './measure.ts';
import { startBenchTestbed } from './testbed.ts';

const GOAL_PROPAGATION_P99_MS = 100;
const GOAL_HANDSHAKE_COST_PERCENT = 5;

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    sessions: { type: 'string', default: '200' },
    'rate-sessions': { type: 'string', default: '100' },
    gap: { type: 'string', default: '1s' },
    'load-seconds': { type: 'string', default: '10' },
    'load-rounds': { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '6' },
    'max-entries': { type: 'string', default: '10000' },
    ttl: { type: 'string', default: '5m' },
    'batch-interval': { type: 'string', default: DEFAULT_SESSION_SHARING_BATCH_INTERVAL },
    ts: { type: 'boolean', default: false },
    'agent-v8-flags': { type: 'string', default: AGENT_V8_FLAGS },
    dir: { type: 'string', default: join(REPO_ROOT, '.tko', 'bench-sessions') },
  },
});
const int = (name: string, v: string, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: an integer in ${min}..${max}`);
  return n;
};
const SESSIONS = int('sessions', args.sessions, 1, 10_000);
const RATE_SESSIONS = int('rate-sessions', args['rate-sessions'], 1, 10_000);
const GAP_MS = parseDuration(args.gap);
const LOAD_MS = int('load-seconds', args['load-seconds'], 1, 600) * 1000;
const LOAD_ROUNDS = int('load-rounds', args['load-rounds'], 1, 20);
const CONCURRENCY = int('concurrency', args.concurrency, 1, 64);
const MAX_ENTRIES = int('max-entries', args['max-entries'], 1, 1_000_000);
const BATCH_INTERVAL = args['batch-interval'];
if (!/^[0-9]+(ms|s)$/.test(BATCH_INTERVAL) || parseDuration(BATCH_INTERVAL) < 10 || parseDuration(BATCH_INTERVAL) > 1000) {
  throw new Error('--batch-interval: 10ms..1s, in ms or s (e.g. 200ms)');
}
// A run at another interval than the default does not replace the default run's results.
const RESULT_FILE = join(
  REPO_ROOT,
  'bench',
  'results',
  BATCH_INTERVAL === DEFAULT_SESSION_SHARING_BATCH_INTERVAL ? 'sessions.json' : `sessions-batch-${BATCH_INTERVAL}.json`,
);
const PROPAGATION_CAP_MS = 5000;
const FILL_CAP_MS = 600_000;

const NAMESPACE = 'bench-sessions';
const NAME = 'edge';
const SERVERNAME = 'edge.bench';
const AGENT_PORT = 19872;
const TLS_PORT = 18443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const IPS = PODS.map((_, i) => `127.1.72.${i + 1}`);

const log = (line: string) => {
  if (!args.json) process.stderr.write(`[bench:sessions] ${line}\n`);
};
const cleanups = new BenchCleanups(log);

interface SharingReport {
  enabled: boolean;
  configHash: string;
  peers: number;
  exported: number;
  sent: number;
  received: number;
  inserted: number;
  dropped: number;
  refused: number;
}

// ---- TLS 1.2 session-id handshakes -----------------------------------------------------------

interface Handshake {
  resumed: boolean;
  /** The session to offer later (Node's export of it). */
  session: Buffer | undefined;
}

/** One TLS 1.2 handshake without tickets, closed as soon as it completes. */
function handshake(host: string, session?: Buffer): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port: TLS_PORT,
      servername: SERVERNAME,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
      rejectUnauthorized: false,
      ...(session ? { session } : {}),
    });
    const timer = setTimeout(() => socket.destroy(new Error(`handshake with ${host} timed out`)), 5000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const result = { resumed: socket.isSessionReused(), session: socket.getSession() };
      socket.destroy();
      resolve(result);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// ---- the fleet's state -----------------------------------------------------------------------

let fleet: Fleet;
let tks: TicketKeySets;
const clients = new Map<string, AgentClient>();
const clientOf = (pod: string): AgentClient => {
  let c = clients.get(pod);
  if (!c) {
    c = fleet.client(pod);
    clients.set(pod, c);
  }
  return c;
};

async function reports(): Promise<Record<string, SharingReport>> {
  const out: Record<string, SharingReport> = {};
  for (const pod of PODS) {
    const r = ((await clientOf(pod).getRing()) as { sessionSharing?: SharingReport }).sessionSharing;
    if (!r) throw new Error(`${pod}: the agent reports no sessionSharing`);
    out[pod] = r;
  }
  return out;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (!cleanups.stopping) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms${last instanceof Error ? ` (${last.message})` : ''}`);
    await sleep(100);
  }
  throw new Error('stopping');
}

/** Switches sharing through the operator and waits until every agent runs the new setting. */
async function setSharing(enabled: boolean): Promise<number> {
  const start = Date.now();
  await tks.mergePatch(NAME, { spec: { sessionCache: { sharing: { enabled, ttl: args.ttl, maxEntries: MAX_ENTRIES, batchInterval: BATCH_INTERVAL } } } });
  await until(`every agent ${enabled ? 'sharing with 2 peers' : 'not sharing'}`, async () => {
    const r = await reports();
    return PODS.every((p) => r[p]!.enabled === enabled && (!enabled || r[p]!.peers === PODS.length - 1)) ? true : undefined;
  }, 60_000);
  return Date.now() - start;
}

async function pluginStats(pod: string): Promise<Record<string, number>> {
  const names = {
    exported: PLUGIN_STATS.sessionsExported,
    exportUncached: PLUGIN_STATS.sessionsExportUncached,
    exportDropped: PLUGIN_STATS.sessionsExportDropped,
    exportNoReader: PLUGIN_STATS.sessionsExportNoReader,
    imported: PLUGIN_STATS.sessionsImported,
    importRejected: PLUGIN_STATS.sessionsImportRejected,
  };
  const r = await fleet.get(pod).ats!.trafficCtl(['metric', 'get', ...Object.values(names)]);
  const out: Record<string, number> = {};
  for (const [k, stat] of Object.entries(names)) {
    const m = new RegExp(`^${stat.replace(/\./g, '\\.')}\\s+(\\d+)`, 'm').exec(r.stdout);
    out[k] = m ? Number(m[1]) : NaN;
  }
  return out;
}

// ---- the measurements --------------------------------------------------------------------------

/** Session made on PODS[i % 3]; each other pod offered it until it resumes. */
async function propagation(): Promise<{ delaysMs: number[]; attempts: number[]; notWithinCap: number }> {
  const delaysMs: number[] = [];
  const attempts: number[] = [];
  let notWithinCap = 0;
  for (let i = 0; i < SESSIONS && !cleanups.stopping; i++) {
    const origin = i % PODS.length;
    const made = await handshake(IPS[origin]!);
    const t0 = performance.now();
    const session = made.session!;
    await Promise.all(
      IPS.filter((_, j) => j !== origin).map(async (ip) => {
        for (let n = 1; ; n++) {
          const r = await handshake(ip, session).catch(() => ({ resumed: false, session: undefined }));
          const elapsed = performance.now() - t0;
          if (r.resumed) {
            delaysMs.push(Math.round(elapsed * 10) / 10);
            attempts.push(n);
            return;
          }
          if (elapsed > PROPAGATION_CAP_MS) {
            notWithinCap++;
            return;
          }
        }
      }),
    );
    if ((i + 1) % 50 === 0) log(`  propagation ${i + 1}/${SESSIONS}`);
    await sleep(20);
  }
  return { delaysMs, attempts, notWithinCap };
}

/** A session made on one pod, offered once to each other pod GAP_MS later. */
async function resumptionRate(): Promise<{ attempts: number; resumed: number; rate: number | null }> {
  let attempts = 0;
  let resumed = 0;
  for (let i = 0; i < RATE_SESSIONS && !cleanups.stopping; i++) {
    const origin = i % PODS.length;
    const made = await handshake(IPS[origin]!);
    await sleep(GAP_MS);
    for (const [j, ip] of IPS.entries()) {
      if (j === origin) continue;
      attempts++;
      if ((await handshake(ip, made.session).catch(() => ({ resumed: false }))).resumed) resumed++;
    }
  }
  return { attempts, resumed, rate: attempts > 0 ? Math.round((resumed / attempts) * 10_000) / 10_000 : null };
}

/** Full handshakes by CONCURRENCY clients round-robin over the pods, for `ms` (or until `stop`). */
async function load(ms: number, stop: () => boolean = () => false): Promise<{ handshakes: number; errors: number; seconds: number }> {
  let handshakes = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = w; performance.now() < end && !stop() && !cleanups.stopping; i++) {
        try {
          await handshake(IPS[i % IPS.length]!);
          handshakes++;
        } catch {
          errors++;
          await sleep(50);
        }
      }
    }),
  );
  return { handshakes, errors, seconds: (performance.now() - start) / 1000 };
}

/** CPU seconds so far of the 3 traffic_servers, of the 3 traffic_managers (which relay every import) and of the 3 agents. */
async function cpu(): Promise<{ ats: number; managers: number; agents: number }> {
  let ats = 0;
  let managers = 0;
  let agents = 0;
  for (const pod of PODS) {
    const m = fleet.get(pod);
    const { server, manager } = await m.ats!.pids();
    if (server !== undefined) ats += (await procStat(server)).cpuSeconds;
    if (manager !== undefined) managers += (await procStat(manager)).cpuSeconds;
    agents += (await procStat(m.agent!.pid)).cpuSeconds;
  }
  return { ats, managers, agents };
}

const median = (v: readonly number[]) => dist(v).p50;
const round1 = (v: number) => Math.round(v * 10) / 10;

let exitCode = 0;
let build: { entry: string; dir: string } | undefined;
try {
  const testbed = await startBenchTestbed(args.dir, log, cleanups);
  process.env.TKO_TEST_KUBECONFIG = testbed.kubeconfig; // spawnOperator dials this cluster
  const kc = testbed.adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: 'default' } } });

  if (!args.ts) {
    build = await buildBundledTko(log);
    const dir = build.dir;
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  }
  const agentProcess: FleetAgentProcess = {
    logLevel: 'warn',
    ...(build ? { entry: build.entry } : {}),
    env: { NODE_OPTIONS: AGENT_NODE_OPTIONS, TKO_AGENT_V8_FLAGS: args['agent-v8-flags'] },
  };
  fleet = await Fleet.create({ kc, namespace: NAMESPACE, port: AGENT_PORT, agentProcess });
  cleanups.push(() => fleet.close());
  tks = new TicketKeySets(kc, NAMESPACE);
  for (const [i, pod] of PODS.entries()) {
    await fleet.add(pod, { ip: IPS[i]!, labels: { app: 'edge' }, ats: true, tlsPort: TLS_PORT, sessionSharing: true });
    log(`pod ${pod}: ATS and agent on ${IPS[i]}`);
  }
  const operator = await spawnOperator({ certs: fleet.files, namespaces: [NAMESPACE], leaderElect: false, logLevel: 'warn', resyncPeriod: '60s' });
  cleanups.push(() => operator.stop());
  await tks.create(
    ticketKeySet(NAME, {
      selector: { matchLabels: { app: 'edge' } },
      rotation: { interval: '24h' },
      ticketLifetime: '1h',
      agent: { port: AGENT_PORT },
      sessionCache: { sharing: { enabled: true, ttl: args.ttl, maxEntries: MAX_ENTRIES, batchInterval: BATCH_INTERVAL } },
    }),
  );
  await until('the first ring on 3 pods', async () => ((await tks.get(NAME)).status?.pods?.converged === 3 ? true : undefined), 120_000);
  const enableMs = await setSharing(true);
  log(`sharing on every agent (${enableMs} ms after the check)`);
  const baselineMemory: Record<string, ProcFacts> = {};
  for (const pod of PODS) baselineMemory[pod] = await procStat(fleet.get(pod).agent!.pid);

  log(`propagation: ${SESSIONS} sessions`);
  const prop = await propagation();
  log(`resumption rate with sharing: ${RATE_SESSIONS} sessions, gap ${GAP_MS} ms`);
  const rateOn = await resumptionRate();

  const loadOn: number[] = [];
  const loadOff: number[] = [];
  /** CPU milliseconds per handshake of the traffic_servers, the traffic_managers and the agents, per round. */
  const cpuPerHandshake = {
    atsOn: [] as number[],
    atsOff: [] as number[],
    managersOn: [] as number[],
    managersOff: [] as number[],
    agentsOn: [] as number[],
    agentsOff: [] as number[],
  };
  /**
   * CPUs each group kept busy during the rounds (CPU seconds per second): per handshake figures
   * divide fixed costs by fewer handshakes when sharing is on; these do not. `clients` is this
   * process, whose one thread runs the TLS clients.
   */
  const cpuCores = { on: [] as Array<Record<'ats' | 'managers' | 'agents' | 'clients', number>>, off: [] as Array<Record<'ats' | 'managers' | 'agents' | 'clients', number>> };
  const loadErrors = { on: 0, off: 0 };
  const switchMs: number[] = [];
  for (let r = 0; r < LOAD_ROUNDS && !cleanups.stopping; r++) {
    for (const enabled of r % 2 === 0 ? [true, false] : [false, true]) {
      switchMs.push(await setSharing(enabled));
      await sleep(1000); // the switch's own traffic settles
      const cpuBefore = await cpu();
      const clientsBefore = process.cpuUsage();
      const l = await load(LOAD_MS);
      const clients = process.cpuUsage(clientsBefore);
      const cpuAfter = await cpu();
      const cores = (s: number) => Math.round((s / l.seconds) * 1000) / 1000;
      cpuCores[enabled ? 'on' : 'off'].push({
        ats: cores(cpuAfter.ats - cpuBefore.ats),
        managers: cores(cpuAfter.managers - cpuBefore.managers),
        agents: cores(cpuAfter.agents - cpuBefore.agents),
        clients: cores((clients.user + clients.system) / 1e6),
      });
      (enabled ? loadOn : loadOff).push(round1(l.handshakes / l.seconds));
      const perHandshake = (s: number) => (l.handshakes > 0 ? Math.round((s * 1e6) / l.handshakes) / 1000 : NaN);
      cpuPerHandshake[enabled ? 'atsOn' : 'atsOff'].push(perHandshake(cpuAfter.ats - cpuBefore.ats));
      cpuPerHandshake[enabled ? 'managersOn' : 'managersOff'].push(perHandshake(cpuAfter.managers - cpuBefore.managers));
      cpuPerHandshake[enabled ? 'agentsOn' : 'agentsOff'].push(perHandshake(cpuAfter.agents - cpuBefore.agents));
      loadErrors[enabled ? 'on' : 'off'] += l.errors;
      log(`load round ${r + 1}, sharing ${enabled ? 'on' : 'off'}: ${round1(l.handshakes / l.seconds)} handshakes/s (${l.errors} errors)`);
    }
  }
  // The last round ended with sharing on or off: measure the rate without sharing now.
  if ((await reports())['ats-0']!.enabled) switchMs.push(await setSharing(false));
  log(`resumption rate without sharing: ${RATE_SESSIONS} sessions`);
  const rateOff = await resumptionRate();

  switchMs.push(await setSharing(true));
  log(`filling every agent to maxEntries ${MAX_ENTRIES}`);
  const fillStart = Date.now();
  let fillHandshakes = 0;
  const handled = (r: SharingReport) => r.exported + r.received;
  const start = await reports();
  while (!cleanups.stopping) {
    const r = await reports();
    if (PODS.every((p) => handled(r[p]!) - handled(start[p]!) >= MAX_ENTRIES)) break;
    if (Date.now() - fillStart > FILL_CAP_MS) throw new Error(`agents not at maxEntries after ${FILL_CAP_MS} ms: ${PODS.map((p) => handled(r[p]!) - handled(start[p]!)).join(', ')}`);
    fillHandshakes += (await load(2000)).handshakes;
  }
  await sleep(2000); // the last batches are delivered
  const atMaxEntries: Record<string, ProcFacts & { handled: number }> = {};
  const final = await reports();
  for (const pod of PODS) atMaxEntries[pod] = { ...(await procStat(fleet.get(pod).agent!.pid)), handled: handled(final[pod]!) - handled(start[pod]!) };
  const plugin: Record<string, Record<string, number>> = {};
  for (const pod of PODS) plugin[pod] = await pluginStats(pod);

  const onMedian = median(loadOn);
  const offMedian = median(loadOff);
  const costPercent = onMedian !== null && offMedian !== null && offMedian > 0 ? round1(((offMedian - onMedian) / offMedian) * 100) : null;
  const propagationMs = dist(prop.delaysMs);
  const machine = await machineFacts();
  const result = {
    benchmark: 'sessions',
    date: new Date().toISOString(),
    ...machine,
    ats: execFileSync('traffic_server', ['--version'], { encoding: 'utf8' }).split('\n').find((l) => /Traffic Server/.test(l))?.trim() ?? 'unknown',
    agentRuntime: args.ts ? 'src/cli/main.ts (type stripping)' : 'the bundle (scripts/bundle.ts, as in the image)',
    agentNodeOptions: AGENT_NODE_OPTIONS,
    agentV8Flags: args['agent-v8-flags'],
    method:
      'One test bed, one tko operator, one TicketKeySet with spec.sessionCache.sharing selecting 3 pods (real ATS 9 with the ' +
      'bridge plugin, --session-fifo and --session-import-fifo, 1 exec thread each; real tko agents with both FIFOs, the bundle as in the image), ' +
      'all on the same 2 shared cores as the benchmark\'s own TLS clients. Clients: TLS 1.2, SSL_OP_NO_TICKET (session-id ' +
      'resumption only), one servername. propagation: a full handshake on one pod (taking turns), then each other pod is ' +
      'offered the session back to back until it resumes it; delay from the first handshake completing to the first ' +
      'resumption (upper bound: resolution one handshake; failed attempts are full handshakes whose sessions are shared too). ' +
      `resumption rate: a full handshake on one pod, ${GAP_MS} ms later one attempt on each of the 2 others. handshakes/s: ` +
      `${CONCURRENCY} clients doing full handshakes round-robin for ${LOAD_MS / 1000} s per round, sharing on and off alternating ` +
      `(${LOAD_ROUNDS} rounds each, switched through the operator), median per setting; CPU ms per handshake of the 3 ` +
      `traffic_servers and of the 3 agents over each round (/proc utime+stime). agent memory: VmRSS/VmHWM of each agent ` +
      `after it handled (exported + received) at least maxEntries sessions since sharing was enabled for the fill.`,
    config: {
      pods: PODS.length,
      sessions: SESSIONS,
      rateSessions: RATE_SESSIONS,
      gapMs: GAP_MS,
      loadSeconds: LOAD_MS / 1000,
      loadRounds: LOAD_ROUNDS,
      concurrency: CONCURRENCY,
      maxEntries: MAX_ENTRIES,
      ttl: args.ttl,
      batchInterval: BATCH_INTERVAL,
    },
    crossPodResumption: { withSharing: rateOn, withoutSharing: rateOff },
    propagationMs: { ...propagationMs, attemptsPerResumption: dist(prop.attempts), notWithinCap: prop.notWithinCap, capMs: PROPAGATION_CAP_MS },
    handshakesPerSecond: { sharingOn: loadOn, sharingOff: loadOff, medianOn: onMedian, medianOff: offMedian, costPercent, errors: loadErrors },
    cpuMsPerHandshake: {
      trafficServers: { sharingOn: median(cpuPerHandshake.atsOn), sharingOff: median(cpuPerHandshake.atsOff) },
      trafficManagers: { sharingOn: median(cpuPerHandshake.managersOn), sharingOff: median(cpuPerHandshake.managersOff) },
      agents: { sharingOn: median(cpuPerHandshake.agentsOn), sharingOff: median(cpuPerHandshake.agentsOff) },
      rounds: cpuPerHandshake,
    },
    cpuCoresInRounds: cpuCores,
    sharingSwitchMs: dist(switchMs),
    agentMemory: {
      maxEntries: MAX_ENTRIES,
      afterStartMb: Object.fromEntries(PODS.map((p) => [p, { rssMb: baselineMemory[p]!.rssMb, hwmMb: baselineMemory[p]!.hwmMb }])),
      atMaxEntriesMb: Object.fromEntries(PODS.map((p) => [p, { rssMb: atMaxEntries[p]!.rssMb, hwmMb: atMaxEntries[p]!.hwmMb, sessionsHandled: atMaxEntries[p]!.handled }])),
      fillHandshakes,
      fillSeconds: round1((Date.now() - fillStart) / 1000),
    },
    agentCounters: final,
    pluginCounters: plugin,
    goals: { propagationP99Ms: GOAL_PROPAGATION_P99_MS, handshakeCostPercent: GOAL_HANDSHAKE_COST_PERCENT },
    pass: {
      propagationP99: propagationMs.p99 !== null && propagationMs.p99 <= GOAL_PROPAGATION_P99_MS && prop.notWithinCap === 0,
      handshakeCost: costPercent !== null && costPercent <= GOAL_HANDSHAKE_COST_PERCENT,
    },
  };
  await writeResult(RESULT_FILE, result, args.json, log);
  log(
    `cross-pod resumption ${rateOn.rate} with sharing, ${rateOff.rate} without; propagation p50 ${propagationMs.p50} ms p99 ${propagationMs.p99} ms; ` +
      `handshakes/s on ${onMedian} off ${offMedian} (cost ${costPercent} %); agent RSS at maxEntries ${PODS.map((p) => atMaxEntries[p]!.rssMb).join('/')} MB`,
  );
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await cleanups.run();
}
process.exit(exitCode);
