// Convergence benchmark: how long one rotation takes to reach every pod, at 10, 100 and 1000 pods.
//
//   npm run bench:convergence -- [--json] [--pods 10,100,1000] [--rotations 20]
//                                [--ats-delay-pods 10,100] [--wide-pods 100] [--ats-delay-ms 300]
//                                [--wide-concurrency 128]
//
// One test bed (kube-apiserver + etcd) and one real `tko operator` process per size (operator
// defaults: --push-concurrency 16, --workers 4, --resync-period 60s, --agent-timeout 5s). Per size N: a namespace with N Pod
// objects (labelled as FakePods labels them, including ticketkeys.dev/agent=true; status written
// as the kubelet would), and N agents served by THIS process: `startAgent` with the in-memory ATS
// bridge (no ATS: this measures the operator and the protocol, not ATS's stats sync), each on its
// own loopback address in 127.1.0.0/16, each with real mutual TLS and its own per-pod
// certificate (URI SAN …/ns/<ns>/pod/<pod>) from the fleet's CA. One TicketKeySet (promotion
// policy AllPodsAcknowledged, rotation interval 24h) selects the N pods; each rotation is
// triggered with the rotate-now annotation.
//
// Per rotation: start = the rotate-now PATCH is sent; staged = every agent holds a ring with the
// new key (not yet active); promoted = every agent holds the ring where the new key is active
// (both sampled in-process from each agent's accepted ring: set just before the agent answers the
// operator's PUT, so it is the acknowledgement up to the response's way back); statusConverged =
// the TicketKeySet status shows phase Stable and pods.converged = N.
// Operator cost: CPU seconds (utime+stime) and RSS from /proc/<pid> over the rotations.
// API requests: the API server's apiserver_request_total (by verb and resource) over the
// rotations, less the requests this benchmark made itself (counted), divided by rotations.
// --ats-delay-pods: those sizes again with the bridge showing an install only after --ats-delay-ms
// (real ATS publishes its stats ~300 ms late, and the agent answers a PUT only once it reads the
// ring back); --wide-pods: with that delay and the operator's --push-concurrency raised to
// --wide-concurrency.
// Results: bench/results/convergence.json (and stdout with --json). No key bytes are reported.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { startAgent, type RunningAgent } from '../src/agent/agent.ts';
import { MemoryBridge } from '../src/agent/memory-bridge.ts';
import { ANNOTATION_ROTATE_NOW } from '../src/api/names.ts';
import type { TicketKeySet } from '../src/api/index.ts';
import { createDevCerts, issueAgentCert, writeDevCerts, type PemPair } from '../src/dev/certs.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startBenchOperator, type BenchOperator } from './operator-process.ts';
import { FakePods } from '../test/helpers/pods.ts';
import { ticketKeySet, TicketKeySets } from '../test/helpers/ticket-key-sets.ts';
import { REPO_ROOT } from '../test/testbed/testbed.ts';
import { BenchCleanups } from './cleanups.ts';
import { startBenchTestbed } from './testbed.ts';

const RESULT_FILE = join(REPO_ROOT, 'bench', 'results', 'convergence.json');
const AGENT_PORT = 19743;
const NAME = 'edge';
/** What the operator reads and writes (Pods, its Secret, the ATS ConfigMap, TicketKeySets, Events). */
const OPERATOR_RESOURCES = new Set(['pods', 'secrets', 'configmaps', 'ticketkeysets', 'events']); // no leases: leader election is off
const TARGET_P50_MS: Record<number, number> = { 100: 1000, 1000: 5000 };
// Kubernetes docs, "Configure a Pod to Use a ConfigMap" → "Mounted ConfigMaps are updated
// automatically" (Secret volumes alike): the delay can be as long as the kubelet sync period
// (--sync-frequency, 1 min default) + the cache propagation delay of the kubelet's
// configMapAndSecretChangeDetectionStrategy (Watch, the default: watch propagation; Cache: the
// cache TTL, 1 min default).
const FILE_BASED = {
  source: 'https://kubernetes.io/docs/tasks/configure-pod-container/configure-pod-configmap/#mounted-configmaps-are-updated-automatically',
  alsoSee: 'https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod',
  boundSeconds: { kubeletSyncPeriod: 60, cacheTtl: 60, defaultWatchStrategy: 60, ttlCacheStrategy: 120 },
  summary:
    'A Secret/ConfigMap volume update reaches a pod after up to the kubelet sync period (--sync-frequency, 1 min default) + ' +
    'the cache propagation delay (watch propagation with the default Watch strategy; the cache TTL, 1 min, with the Cache ' +
    'strategy): up to ~60-120 s per pod, with no acknowledgement back to any controller, so a two-phase stage/promote over ' +
    'files must wait the worst case twice (>= 2-4 min per rotation).',
};

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    pods: { type: 'string', default: '10,100,1000' },
    rotations: { type: 'string', default: '20' },
    gap: { type: 'string', default: '500' },
    // MemoryBridge.applyDelayMs: an install shows in the bridge's stats only after this long,
    // as real ATS publishes its stats late (~300 ms, bench/results/agent.json put times).
    // --ats-delay-pods: sizes run a second time with that delay (default none).
    'ats-delay-ms': { type: 'string', default: '300' },
    'ats-delay-pods': { type: 'string', default: '' },
    // --wide-pods: sizes run once more with the ATS stats delay and --push-concurrency raised to
    // --wide-concurrency (an operator flag, default 16): how far fan-out width hides the delay.
    'wide-pods': { type: 'string', default: '' },
    'wide-concurrency': { type: 'string', default: '128' },
    dir: { type: 'string', default: join(REPO_ROOT, '.tko', 'bench-convergence') },
  },
});
const SIZES = args.pods.split(',').map((s) => Number(s.trim()));
if (SIZES.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000)) throw new Error('--pods: comma-separated integers in 1..10000');
const ROTATIONS = Number(args.rotations);
if (!Number.isInteger(ROTATIONS) || ROTATIONS < 1 || ROTATIONS > 1000) throw new Error('--rotations: an integer in 1..1000');
const GAP_MS = Number(args.gap);
if (!Number.isInteger(GAP_MS) || GAP_MS < 0 || GAP_MS > 60_000) throw new Error('--gap: milliseconds in 0..60000');

const ATS_DELAY_MS = Number(args['ats-delay-ms']);
if (!Number.isInteger(ATS_DELAY_MS) || ATS_DELAY_MS < 0 || ATS_DELAY_MS > 1500) throw new Error('--ats-delay-ms: milliseconds in 0..1500');
const DELAY_SIZES = args['ats-delay-pods'] === '' ? [] : args['ats-delay-pods'].split(',').map((s) => Number(s.trim()));
if (DELAY_SIZES.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000)) throw new Error('--ats-delay-pods: comma-separated integers in 1..10000');
const WIDE_SIZES = args['wide-pods'] === '' ? [] : args['wide-pods'].split(',').map((s) => Number(s.trim()));
if (WIDE_SIZES.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000)) throw new Error('--wide-pods: comma-separated integers in 1..10000');
const WIDE_CONCURRENCY = Number(args['wide-concurrency']);
if (!Number.isInteger(WIDE_CONCURRENCY) || WIDE_CONCURRENCY < 1 || WIDE_CONCURRENCY > 1000) throw new Error('--wide-concurrency: an integer in 1..1000');
const DEFAULT_PUSH_CONCURRENCY = 16; // the operator's --push-concurrency default
const RUNS = [
  ...SIZES.map((n) => ({ n, delayMs: 0, pushConcurrency: DEFAULT_PUSH_CONCURRENCY })),
  ...DELAY_SIZES.map((n) => ({ n, delayMs: ATS_DELAY_MS, pushConcurrency: DEFAULT_PUSH_CONCURRENCY })),
  ...WIDE_SIZES.map((n) => ({ n, delayMs: ATS_DELAY_MS, pushConcurrency: WIDE_CONCURRENCY })),
];

const log = (line: string) => {
  if (!args.json) process.stderr.write(`[bench:convergence] ${line}\n`);
};

const cleanups = new BenchCleanups(log);

/** 127.1.0.0/16, one address per pod, .1–.250 in each /24 (no test uses this range). */
const podIp = (size: number, i: number) => `127.1.${(size === 1000 ? 100 : size === 100 ? 50 : 0) + Math.floor(i / 250)}.${(i % 250) + 1}`;

async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && !cleanups.stopping) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const dist = (values: number[]) => ({
  n: values.length,
  p50: percentile(values, 50),
  p99: percentile(values, 99),
  min: values.length ? Math.min(...values) : null,
  max: values.length ? Math.max(...values) : null,
});

// ---- operator process facts from /proc ----
const CLK_TCK = 100; // USER_HZ on Linux
async function procStat(pid: number): Promise<{ cpuSeconds: number; rssMb: number; hwmMb: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(/^\S+:\s+(\d+)/m.exec(status.split('\n').find((l) => l.startsWith(`${k}:`)) ?? '')?.[1] ?? NaN);
  return { cpuSeconds, rssMb: Math.round(kb('VmRSS') / 102.4) / 10, hwmMb: Math.round(kb('VmHWM') / 102.4) / 10 };
}

// ---- API server request counts ----
async function apiserverRequests(kc: KubeConfig): Promise<Map<string, number>> {
  const url = new URL('/metrics', kc.getCurrentCluster()!.server);
  const opts: RequestOptions = { method: 'GET', hostname: url.hostname, port: url.port, path: url.pathname };
  await kc.applyToHTTPSOptions(opts);
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(opts, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (data += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(data) : reject(new Error(`/metrics: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
  const counts = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!labels.resource) continue; // /metrics, /healthz…: not an API object
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

// ---- one size ----
interface Sample {
  stagedMs: number;
  promotedMs: number;
  statusConvergedMs: number | null;
}

async function runSize(kc: KubeConfig, kubeconfig: string, n: number, delayMs: number, pushConcurrency: number, operatorRef: { op?: BenchOperator }, certs: Awaited<ReturnType<typeof createDevCerts>>, files: Awaited<ReturnType<typeof writeDevCerts>>) {
  const namespace = `bench-conv-${n}${delayMs ? `-delay${delayMs}` : ''}${pushConcurrency !== DEFAULT_PUSH_CONCURRENCY ? `-c${pushConcurrency}` : ''}`;
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  const names = Array.from({ length: n }, (_, i) => `ats-${i}`);
  const ips = names.map((_, i) => podIp(n, i));

  let t0 = Date.now();
  const pemPairs: PemPair[] = await mapBounded(names, 8, (pod) => issueAgentCert(certs.ca, { namespace, pod }));
  const certIssueMs = Date.now() - t0;
  log(`N=${n}: ${n} per-pod agent certificates issued in ${certIssueMs} ms`);

  const logger = createLogger({ component: 'bench-agent', level: 'error' });
  const clientCa = await readFile(files.caCert, 'utf8');
  t0 = Date.now();
  const agents: RunningAgent[] = await mapBounded(names, 16, (_, i) =>
    startAgent({
      listen: { host: ips[i]!, port: AGENT_PORT },
      healthListen: { host: ips[i]!, port: 0 },
      tls: { cert: pemPairs[i]!.cert, key: pemPairs[i]!.key, clientCa },
      bridge: Object.assign(new MemoryBridge(), { applyDelayMs: delayMs }),
      logger,
      // Many agents share this process: a slower re-assert than the sidecar's 300 ms keeps
      // their background reads from competing with the operator for the 2 CPUs.
      reassertIntervalMs: 2000,
    }),
  );
  cleanups.push(async () => {
    await mapBounded(agents, 32, (a) => a.close());
  });
  const agentStartMs = Date.now() - t0;
  log(`N=${n}: ${n} agents listening in ${agentStartMs} ms`);

  const pods = new FakePods(kc, namespace);
  t0 = Date.now();
  await mapBounded(names, 8, (name, i) => pods.create({ name, ip: ips[i]!, labels: { app: 'edge' } }));
  const podCreateMs = Date.now() - t0;
  log(`N=${n}: ${n} Pod objects Running in ${podCreateMs} ms`);

  // One operator process for the whole run would need every namespace up front; one per size
  // keeps each size's CPU and RSS its own.
  await operatorRef.op?.stop();
  const op = await startBenchOperator({ kubeconfig, certs: files, namespaces: [namespace], flags: ['--push-concurrency', String(pushConcurrency)] });
  operatorRef.op = op;
  const tks = new TicketKeySets(kc, namespace);
  const own = new Map<string, number>(); // requests this benchmark makes during the measurement
  const count = (k: string) => own.set(k, (own.get(k) ?? 0) + 1);

  // Rotations are triggered by rotate-now; retired keys leave the ring ticketLifetime +
  // promotion.timeout after retirement, so the ring stays well under 16 keys.
  const promotionTimeout = n >= 1000 ? '60s' : '20s';
  t0 = Date.now();
  await tks.create(
    ticketKeySet(NAME, {
      selector: { matchLabels: { app: 'edge' } },
      rotation: { interval: '24h' }, // long: only rotate-now rotates (suspend would hold rotate-now too)
      ticketLifetime: '1s',
      promotion: { policy: 'AllPodsAcknowledged', timeout: promotionTimeout },
      agent: { port: AGENT_PORT },
    }),
  );
  const converged = (t: TicketKeySet | undefined) => t?.status?.phase === 'Stable' && t.status.pods?.converged === n && t.status.pods?.total === n;
  for (;;) {
    if (cleanups.stopping) throw new Error('stopped');
    if (converged(await tks.get(NAME))) break;
    if (Date.now() - t0 > 10 * 60_000) throw new Error(`N=${n}: first ring not on every pod after 10 min`);
    await sleep(200);
  }
  const firstRingMs = Date.now() - t0;
  log(`N=${n}: first ring on all ${n} pods in ${firstRingMs} ms`);

  const samples: Sample[] = [];
  const keysInRing: number[] = [];
  const before = { requests: await apiserverRequests(kc), proc: await procStat(op.pid), at: Date.now() };
  let hwm = before.proc.rssMb;
  const deadlineMs = n >= 1000 ? 120_000 : 60_000;
  for (let r = 0; r < ROTATIONS && !cleanups.stopping; r++) {
    // Keep the ring below the 16-key cap (a rotation past it is deferred, not measured here).
    while (!cleanups.stopping && (agents[0]!.keeper.accepted()?.keyFingerprints.length ?? 0) > 12) await sleep(100);
    const baseline = agents.map((a) => new Set(a.keeper.accepted()?.keyFingerprints ?? []));
    keysInRing.push(baseline[0]!.size);
    const staged = new Array<number>(n).fill(0);
    const promoted = new Array<number>(n).fill(0);
    let pendingStage = names.map((_, i) => i);
    let pendingPromote = names.map((_, i) => i);
    const start = performance.now();
    count('PATCH ticketkeysets');
    await tks.mergePatch(NAME, { metadata: { annotations: { [ANNOTATION_ROTATE_NOW]: `bench-${n}-${r}-${Date.now()}` } } });
    // Sample every agent's accepted ring in-process; only the pods not there yet are looked at.
    while (pendingPromote.length > 0 && !cleanups.stopping) {
      if (performance.now() - start > deadlineMs) {
        const st = (await tks.get(NAME).catch(() => undefined))?.status;
        throw new Error(
          `N=${n} rotation ${r}: ${pendingPromote.length} pods not promoted (${pendingStage.length} not staged) after ${deadlineMs} ms; ` +
            `status phase ${st?.phase}, conditions ${JSON.stringify(st?.conditions?.map((c) => [c.type, c.status, c.reason]))}; ` +
            `operator log tail: ${op.logs().slice(-5).join(' | ')}`,
        );
      }
      const now = performance.now();
      pendingStage = pendingStage.filter((i) => {
        const a = agents[i]!.keeper.accepted();
        if (a && a.keyFingerprints.some((f) => !baseline[i]!.has(f))) {
          staged[i] = now - start;
          return false;
        }
        return true;
      });
      pendingPromote = pendingPromote.filter((i) => {
        const a = agents[i]!.keeper.accepted();
        if (a && !baseline[i]!.has(a.activeFingerprint)) {
          promoted[i] = now - start;
          return false;
        }
        return true;
      });
      await sleep(2);
    }
    const stagedMs = Math.max(...staged);
    const promotedMs = Math.max(...promoted);
    let statusConvergedMs: number | null = null;
    while (!cleanups.stopping && performance.now() - start < deadlineMs) {
      count('GET ticketkeysets');
      const t = await tks.get(NAME);
      if (converged(t) && !baseline[0]!.has(t.status?.activeKey?.fingerprint ?? '')) {
        statusConvergedMs = performance.now() - start;
        break;
      }
      await sleep(20);
    }
    samples.push({ stagedMs: Math.round(stagedMs), promotedMs: Math.round(promotedMs), statusConvergedMs: statusConvergedMs === null ? null : Math.round(statusConvergedMs) });
    hwm = Math.max(hwm, (await procStat(op.pid)).rssMb);
    log(`N=${n} rotation ${r + 1}/${ROTATIONS}: all staged ${Math.round(stagedMs)} ms, all promoted ${Math.round(promotedMs)} ms, status converged ${statusConvergedMs === null ? '-' : Math.round(statusConvergedMs)} ms`);
    await sleep(GAP_MS);
  }
  const after = { requests: await apiserverRequests(kc), proc: await procStat(op.pid), at: Date.now() };
  const rotations = samples.length;
  // apiserver_request_total has no user label: the API server's own loopback clients (lease
  // renewals, watch re-establishment of its informers) are counted apart, by resource.
  const perRotation: Record<string, number> = {};
  const apiserverOwn: Record<string, number> = {};
  for (const [k, v] of after.requests) {
    const d = v - (before.requests.get(k) ?? 0) - (own.get(k) ?? 0);
    if (d <= 0) continue;
    const resource = k.split(' ')[1]!.split('/')[0]!;
    (OPERATOR_RESOURCES.has(resource) ? perRotation : apiserverOwn)[k] = Math.round((d / rotations) * 100) / 100;
  }
  // Warnings and errors the operator logged, counted by message (its logs never carry key bytes).
  const operatorWarnings: Record<string, number> = {};
  for (const line of op.logs()) {
    try {
      const l = JSON.parse(line) as { level?: string; message?: string };
      if (l.level === 'warn' || l.level === 'error') operatorWarnings[`${l.level}: ${String(l.message).slice(0, 120)}`] = (operatorWarnings[`${l.level}: ${String(l.message).slice(0, 120)}`] ?? 0) + 1;
    } catch {
      // not a JSON line
    }
  }
  const full = samples.map((s) => s.promotedMs);
  const target = TARGET_P50_MS[n];
  const p50 = percentile(full, 50);
  return {
    pods: n,
    atsStatsDelayMs: delayMs,
    pushConcurrency,
    rotations,
    setup: { certIssueMs, agentStartMs, podCreateMs, firstRingMs, promotionTimeout },
    stagedAllAckedMs: dist(samples.map((s) => s.stagedMs)),
    fullRotationAllAckedMs: dist(full),
    promoteToAllAckedMs: dist(samples.map((s) => s.promotedMs - s.stagedMs)),
    statusConvergedMs: dist(samples.flatMap((s) => (s.statusConvergedMs === null ? [] : [s.statusConvergedMs]))),
    keysInRingAtStart: dist(keysInRing),
    operator: {
      cpuSeconds: Math.round((after.proc.cpuSeconds - before.proc.cpuSeconds) * 100) / 100,
      cpuSecondsPerRotation: Math.round(((after.proc.cpuSeconds - before.proc.cpuSeconds) / rotations) * 1000) / 1000,
      wallSeconds: Math.round((after.at - before.at) / 100) / 10,
      rssMbBefore: before.proc.rssMb,
      rssMbAfter: after.proc.rssMb,
      rssMbMaxSampled: hwm,
      vmHwmMb: after.proc.hwmMb,
    },
    apiRequestsPerRotation: perRotation,
    apiRequestsPerRotationTotal: Math.round(Object.values(perRotation).reduce((a, b) => a + b, 0) * 100) / 100,
    apiserverOwnRequestsPerRotation: apiserverOwn,
    rotationsOver5s: samples.filter((x) => x.promotedMs > 5000).length,
    operatorWarnings,
    each: samples,
    ...(target ? { target: { fullRotationP50Ms: target, met: p50 !== null && p50 <= target } } : {}),
  };
}

let exitCode = 0;
try {
  const testbed = await startBenchTestbed(args.dir, log, cleanups);
  const kc = testbed.adminKubeConfig();
  const certs = await createDevCerts();
  const files = await writeDevCerts(join(args.dir, 'certs'), certs);
  const operatorRef: { op?: BenchOperator } = {};
  cleanups.push(async () => operatorRef.op?.stop());

  const sizes: Array<Record<string, unknown>> = [];
  for (const { n, delayMs, pushConcurrency } of RUNS) {
    if (cleanups.stopping) break;
    try {
      const r = await runSize(kc, testbed.kubeconfig, n, delayMs, pushConcurrency, operatorRef, certs, files);
      sizes.push(r);
      log(`N=${n} (ATS stats delay ${delayMs} ms, push concurrency ${pushConcurrency}): full rotation p50 ${r.fullRotationAllAckedMs.p50} ms, p99 ${r.fullRotationAllAckedMs.p99} ms; operator ${r.operator.cpuSecondsPerRotation} CPU s/rotation, RSS ${r.operator.rssMbAfter} MB; ${r.apiRequestsPerRotationTotal} API requests/rotation`);
    } catch (err) {
      log(`N=${n}: failed: ${(err as Error).message}`);
      sizes.push({ pods: n, atsStatsDelayMs: delayMs, pushConcurrency, error: (err as Error).message.slice(0, 500) });
    }
    // Each size's operator and agents stop before the next size starts.
    await operatorRef.op?.stop();
    operatorRef.op = undefined;
    const c = cleanups.pop();
    if (c && !cleanups.stopping) await c();
  }

  const result = {
    benchmark: 'convergence',
    date: new Date().toISOString(),
    node: process.version,
    cpus: (await readFile('/proc/cpuinfo', 'utf8')).split('\n').filter((l) => l.startsWith('processor')).length,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    method:
      'One test bed (kube-apiserver + etcd) and one tko operator process per size (flags at their defaults but --push-concurrency, ' +
      'see pushConcurrency; the default is 16). ' +
      'N Pod objects (status written as the kubelet would), N agents in ONE benchmark process (startAgent + in-memory ATS bridge, ' +
      'each on its own 127.1.x.y, real mutual TLS with a per-pod certificate). One TicketKeySet, AllPodsAcknowledged, rotations ' +
      'by rotate-now. stagedAllAckedMs/fullRotationAllAckedMs: from the rotate-now PATCH until every agent holds the staged / ' +
      'promoted ring (sampled in-process every ~2 ms); statusConvergedMs: until status shows Stable with all pods converged. ' +
      'Operator CPU/RSS from /proc; API requests from apiserver_request_total less the benchmark\'s own requests, on the resources the ' +
      'operator uses (the API server\'s own lease renewals and watch restarts apart). The agents and ' +
      'the operator share the machine\'s CPUs with the API server and etcd. atsStatsDelayMs > 0: the bridge shows an install ' +
      'only after that long, as real ATS publishes its stats late (the agent answers a PUT only once its read-back sees the ring).',
    rotationsPerSize: ROTATIONS,
    sizes,
    fileBasedAlternative: FILE_BASED,
  };
  await mkdir(dirname(RESULT_FILE), { recursive: true });
  await writeFile(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else log(`written to ${RESULT_FILE}`);
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await cleanups.run();
}
process.exit(exitCode);
