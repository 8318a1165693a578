// Resumption benchmark under delivery skew: AllPodsAcknowledged (two-phase) against Immediate,
// in one run, on real parts.
//
//   npm run bench:resumption -- [--json] [--rotations 20] [--delay 2s]
//
// One test bed (kube-apiserver + etcd), one real `tko operator` watching two namespaces, and in
// each namespace a TicketKeySet (identical but for promotion.policy) selecting its own 3 pods,
// each a real ATS 9 (bridge plugin) plus a real `tko agent` on its own loopback IP (127.1.200.x).
// Real clusters deliver unevenly: the agent of one pod per namespace (ats-2) is reached through a
// loopback TCP proxy that delays every chunk of its traffic by --delay in both directions (a
// harness part; the operator does not know). The operator runs with --agent-timeout 15s so a
// delayed push completes instead of timing out.
//
// Both scenarios run at the same time, so they share the machine's load and clock. Once every
// pod holds the first ring, TLS 1.3 and TLS 1.2 clients (chain(): one chain per version as in
// test/helpers/resumption-client.ts, each connection to the next pod round-robin offering the
// session of the previous connection, one servername for every pod; sessions older than
// ticketLifetime are not offered) run continuously. Rotations are requested with the rotate-now annotation on both TicketKeySets at once; the next one is requested when
// both are Stable with all 3 pods on the current ring (so every rotation sees the same skew).
//
// attempts = connections that offered a session; resumed / failed = the server accepted it /
// made a full handshake instead; errors = no TLS result. ticketsNotFound = the sum over the 3
// pods of ATS's proxy.process.ssl.total_tickets_not_found over the measurement. The clients do
// not offer a session older than ticketLifetime (see chain()).
// Results: bench/results/resumption.json (and stdout with --json). No key bytes are reported.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import type { TicketKeySet } from '../src/api/index.ts';
import { ANNOTATION_ROTATE_NOW } from '../src/api/names.ts';
import { parseDuration } from '../src/core/duration.ts';
import { FaultProxy } from '../dev/fault-proxy.ts';
import { Fleet } from '../dev/fleet.ts';
import { spawnOperator, type SpawnedOperator } from '../dev/operator-process.ts';
import { ticketKeySetEvents } from '../dev/operator-records.ts';
import { tlsProbe, type TlsVersion } from '../dev/tls-probe.ts';
import { ticketKeySet, TicketKeySets } from '../dev/ticket-key-sets.ts';
import { REPO_ROOT } from '../dev/testbed/testbed.ts';
import { BenchCleanups } from './cleanups.ts';
import { startBenchTestbed } from './testbed.ts';

const RESULT_FILE = join(REPO_ROOT, 'bench', 'results', 'resumption.json');

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rotations: { type: 'string', default: '20' },
    delay: { type: 'string', default: '2s' },
    'ticket-lifetime': { type: 'string', default: '1m' },
    'promotion-timeout': { type: 'string', default: '30s' },
    gap: { type: 'string', default: '1s' },
    dir: { type: 'string', default: join(REPO_ROOT, '.tko', 'bench-resumption') },
  },
});
const ROTATIONS = Number(args.rotations);
if (!Number.isInteger(ROTATIONS) || ROTATIONS < 1 || ROTATIONS > 200) throw new Error('--rotations: an integer in 1..200');
const DELAY_MS = parseDuration(args.delay);
if (DELAY_MS < 0 || DELAY_MS > 10_000) throw new Error('--delay: at most 10s');
const GAP_MS = parseDuration(args.gap);
const AGENT_PORT = 19843;
const TLS_PORT = 18443;
const NAME = 'edge';
const SERVERNAME = 'edge.bench';
const ROTATION_CAP_MS = 90_000;
const NOT_FOUND = 'proxy.process.ssl.total_tickets_not_found';

type Policy = 'AllPodsAcknowledged' | 'Immediate';

const log = (line: string) => {
  if (!args.json) process.stderr.write(`[bench:resumption] ${line}\n`);
};

interface Scenario {
  policy: Policy;
  namespace: string;
  ips: string[];
  podNames: string[];
  delayedPod: string;
  fleet?: Fleet;
  tks?: TicketKeySets;
  proxy?: FaultProxy;
  attempts: Attempt[];
  rotationMs: number[];
}

interface Attempt {
  version: TlsVersion;
  pod: string;
  outcome: 'fresh' | 'resumed' | 'failed' | 'error';
  /** For 'fresh': the chain held a session older than ticketLifetime and did not offer it. */
  expired?: boolean;
}

const scenario = (policy: Policy, namespace: string, base: number): Scenario => ({
  policy,
  namespace,
  podNames: ['ats-0', 'ats-1', 'ats-2'],
  ips: [0, 1, 2].map((i) => `127.1.200.${base + i}`),
  delayedPod: 'ats-2',
  attempts: [],
  rotationMs: [],
});
const scenarios = [scenario('AllPodsAcknowledged', 'bench-resume-two-phase', 11), scenario('Immediate', 'bench-resume-immediate', 21)];
/** The agent of the delayed pod listens here; the proxy listens on the pod IP. */
const hiddenAgentHost = (s: Scenario) => s.ips[2]!.replace(/\.(\d+)$/, (_, d: string) => `.${Number(d) + 100}`);

const cleanups = new BenchCleanups(log);

let clientsStop = false;
const TICKET_LIFETIME_MS = parseDuration(args['ticket-lifetime']);

/**
 * One TLS client chain, as test/helpers/resumption-client.ts runs it (each connection to the next
 * pod round-robin, offering the session of the previous one, one servername for all pods), but
 * honouring the ticket lifetime: a session older than ticketLifetime is not offered (a full
 * handshake instead). ATS renews no TLS 1.2 ticket on resumption under the current key, so a
 * TLS 1.2 chain would otherwise offer its first ticket long after the operator may destroy its
 * key (ticketLifetime + promotion.timeout after retirement), which is no rotation failure.
 */
async function chain(s: Scenario, version: TlsVersion, offset: number): Promise<void> {
  let session: { bytes: Buffer; at: number } | undefined;
  for (let i = offset; !clientsStop && !cleanups.stopping; i++) {
    const idx = i % s.ips.length;
    const pod = s.podNames[idx]!;
    const expired = session !== undefined && Date.now() - session.at > TICKET_LIFETIME_MS;
    if (expired) session = undefined;
    try {
      const r = await tlsProbe({ host: s.ips[idx]!, port: TLS_PORT, tls: version, servername: SERVERNAME, timeoutMs: 3000, ...(session ? { session: session.bytes } : {}) });
      s.attempts.push({ version, pod, outcome: session ? (r.resumed ? 'resumed' : 'failed') : 'fresh', ...(expired ? { expired } : {}) });
      if (r.newSession) session = { bytes: r.newSession, at: Date.now() };
    } catch {
      s.attempts.push({ version, pod, outcome: 'error' });
      await sleep(200); // a refused connection returns at once: do not spin
    }
    await sleep(20);
  }
}

const converged = (t: TicketKeySet | undefined) => t?.status?.phase === 'Stable' && t.status.pods?.converged === 3 && t.status.pods?.total === 3;

async function notFound(s: Scenario): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const pod of s.podNames) {
    const r = await s.fleet!.get(pod).ats!.trafficCtl(['metric', 'get', NOT_FOUND]);
    const m = new RegExp(`${NOT_FOUND.replace(/\./g, '\\.')}\\s+(\\d+)`).exec(r.stdout);
    if (!m) throw new Error(`traffic_ctl metric get ${NOT_FOUND}: unexpected output`);
    out[pod] = Number(m[1]);
  }
  return out;
}

/** Requests one rotation on `s` and waits until it is Stable with all pods on the new active key. */
async function rotate(s: Scenario, token: string): Promise<void> {
  const before = (await s.tks!.get(NAME)).status?.activeKey?.fingerprint;
  const start = Date.now();
  await s.tks!.mergePatch(NAME, { metadata: { annotations: { [ANNOTATION_ROTATE_NOW]: token } } });
  while (!cleanups.stopping) {
    const t = await s.tks!.get(NAME).catch(() => undefined);
    if (t && converged(t) && t.status?.activeKey?.fingerprint !== before) break;
    if (Date.now() - start > ROTATION_CAP_MS) throw new Error(`${s.policy}: rotation ${token} not converged after ${ROTATION_CAP_MS} ms (phase ${t?.status?.phase})`);
    await sleep(100);
  }
  s.rotationMs.push(Date.now() - start);
}

let exitCode = 0;
try {
  const testbed = await startBenchTestbed(args.dir, log, cleanups);
  process.env.TKO_TEST_KUBECONFIG = testbed.kubeconfig; // spawnOperator dials this cluster
  const kc = testbed.adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);

  for (const s of scenarios) {
    await core.createNamespace({ body: { metadata: { name: s.namespace } } });
    await core.createNamespacedServiceAccount({ namespace: s.namespace, body: { metadata: { name: 'default' } } });
    // One operator, one client certificate and one CA: every fleet's certificates from the first's CA.
    const first = scenarios[0]!.fleet;
    const fleet = await Fleet.create({ kc, namespace: s.namespace, port: AGENT_PORT, ...(first ? { trust: first } : {}) });
    s.fleet = fleet;
    cleanups.push(() => fleet.close());
    s.tks = new TicketKeySets(kc, s.namespace);
    const hidden = hiddenAgentHost(s);
    const proxy = await FaultProxy.start({ listen: { host: s.ips[2]!, port: AGENT_PORT }, target: { host: hidden, port: AGENT_PORT }, mode: 'delay', delayMs: DELAY_MS });
    s.proxy = proxy;
    cleanups.push(() => proxy.close());
  }
  // Pods of both scenarios interleaved, so neither gets a warmer start.
  for (let i = 0; i < 3; i++) {
    for (const s of scenarios) {
      if (cleanups.stopping) break;
      const delayed = s.podNames[i] === s.delayedPod;
      await s.fleet!.add(s.podNames[i]!, { ip: s.ips[i]!, labels: { app: 'edge' }, ats: true, tlsPort: TLS_PORT, ...(delayed ? { agentHost: hiddenAgentHost(s) } : {}) });
      log(`${s.policy}: pod ${s.podNames[i]} (ATS on ${s.ips[i]}, agent ${delayed ? `behind a ${DELAY_MS} ms delay proxy` : 'direct'})`);
    }
  }
  const operator: SpawnedOperator = await spawnOperator({
    certs: scenarios[0]!.fleet!.files,
    namespaces: scenarios.map((s) => s.namespace),
    leaderElect: false,
    logLevel: 'warn',
    agentTimeout: '15s',
    resyncPeriod: '60s',
  });
  cleanups.push(() => operator.stop());
  log(`operator running (pid ${operator.pid})`);

  for (const s of scenarios) {
    await s.tks!.create(
      ticketKeySet(NAME, {
        selector: { matchLabels: { app: 'edge' } },
        rotation: { interval: '24h' }, // only rotate-now rotates, at the same moments for both
        ticketLifetime: args['ticket-lifetime'],
        promotion: { policy: s.policy, timeout: args['promotion-timeout'] },
        agent: { port: AGENT_PORT },
      }),
    );
  }
  const firstStart = Date.now();
  for (const s of scenarios) {
    while (!cleanups.stopping && !converged(await s.tks!.get(NAME))) {
      if (Date.now() - firstStart > 120_000) throw new Error(`${s.policy}: first ring not on all pods after 120 s`);
      await sleep(200);
    }
  }
  log(`first ring on every pod after ${Date.now() - firstStart} ms; clients start`);

  const notFoundBefore = new Map<Policy, Record<string, number>>();
  for (const s of scenarios) notFoundBefore.set(s.policy, await notFound(s));
  const chains = scenarios.flatMap((s) => [chain(s, '1.3', 0), chain(s, '1.2', 1)]);
  const measureStart = Date.now();
  await sleep(2000); // sessions of the first ring exist before the first rotation
  for (let r = 0; r < ROTATIONS && !cleanups.stopping; r++) {
    const token = `bench-${r}-${Date.now()}`;
    await Promise.all(scenarios.map((s) => rotate(s, token)));
    log(`rotation ${r + 1}/${ROTATIONS}: ${scenarios.map((s) => `${s.policy} ${s.rotationMs.at(-1)} ms`).join(', ')}`);
    await sleep(GAP_MS);
  }
  await sleep(2000); // the last rotation's aftermath is measured too
  clientsStop = true;
  await Promise.all(chains);
  const measuredMs = Date.now() - measureStart;

  const results = [];
  for (const s of scenarios) {
    const after = await notFound(s);
    const before = notFoundBefore.get(s.policy)!;
    const byPod = Object.fromEntries(s.podNames.map((p) => [p, after[p]! - before[p]!]));
    const attempts = s.attempts;
    const offered = attempts.filter((a) => a.outcome === 'resumed' || a.outcome === 'failed');
    const by = (f: (a: (typeof attempts)[number]) => boolean) => {
      const sel = offered.filter(f);
      return { attempts: sel.length, resumed: sel.filter((a) => a.outcome === 'resumed').length, failed: sel.filter((a) => a.outcome === 'failed').length };
    };
    const sorted = [...s.rotationMs].sort((a, b) => a - b);
    const events: Record<string, number> = {};
    for (const e of await ticketKeySetEvents(kc, s.namespace, NAME).catch(() => [])) events[e.reason] = (events[e.reason] ?? 0) + e.count;
    results.push({
      policy: s.policy,
      rotations: s.rotationMs.length,
      ...by(() => true),
      errors: attempts.filter((a) => a.outcome === 'error').length,
      freshHandshakes: attempts.filter((a) => a.outcome === 'fresh').length,
      notOfferedOlderThanTicketLifetime: attempts.filter((a) => a.expired).length,
      ticketsNotFound: Object.values(byPod).reduce((a, b) => a + b, 0),
      ticketsNotFoundByPod: byPod,
      byVersion: { 'TLS1.3': by((a) => a.version === '1.3'), 'TLS1.2': by((a) => a.version === '1.2') },
      failedByPod: Object.fromEntries(s.podNames.map((p) => [p, offered.filter((a) => a.pod === p && a.outcome === 'failed').length])),
      rotationToConvergedMs: { p50: sorted[Math.floor((sorted.length - 1) / 2)] ?? null, max: sorted.at(-1) ?? null },
      events,
    });
  }
  const two = results.find((r) => r.policy === 'AllPodsAcknowledged')!;
  const imm = results.find((r) => r.policy === 'Immediate')!;
  const result = {
    benchmark: 'resumption',
    date: new Date().toISOString(),
    node: process.version,
    ats: execFileSync('traffic_server', ['--version'], { encoding: 'utf8' }).split('\n').find((l) => /Traffic Server/.test(l))?.trim() ?? 'unknown',
    cpus: (await readFile('/proc/cpuinfo', 'utf8')).split('\n').filter((l) => l.startsWith('processor')).length,
    method:
      'Both policies in one run, at the same time, one test bed and one tko operator (--agent-timeout 15s) watching two ' +
      'namespaces, each with a TicketKeySet identical but for promotion.policy selecting 3 pods (real ATS 9 + bridge plugin, ' +
      `real tko agent). The agent of ats-2 in each namespace is reached through a loopback TCP proxy delaying every chunk by ` +
      `${DELAY_MS} ms both ways. TLS 1.3 and TLS 1.2 chains (one each per policy) connect round-robin to the 3 pods, each ` +
      'connection offering the session of the previous one unless it is older than ticketLifetime. Rotations by rotate-now on both at once, the next when both are ' +
      'Stable with every pod on the current ring. failed = a session offered and a full handshake made.',
    config: { rotations: ROTATIONS, delayMs: DELAY_MS, ticketLifetime: args['ticket-lifetime'], promotionTimeout: args['promotion-timeout'], gapMs: GAP_MS, measuredMs },
    results,
    target: { AllPodsAcknowledged: '0 failed resumptions', Immediate: 'failures measured, not assumed' },
    pass: { allPodsAcknowledgedNoFailures: two.failed === 0 && two.attempts > 0 },
    immediateFailuresPerRotation: imm.rotations > 0 ? Math.round((imm.failed / imm.rotations) * 100) / 100 : null,
  };
  await mkdir(dirname(RESULT_FILE), { recursive: true });
  await writeFile(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    for (const r of results) log(`${r.policy}: ${r.attempts} resumptions offered, ${r.resumed} resumed, ${r.failed} failed; ATS tickets_not_found ${r.ticketsNotFound}; ${r.rotations} rotations`);
    log(`written to ${RESULT_FILE}`);
  }
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await cleanups.run();
}
process.exit(exitCode);
