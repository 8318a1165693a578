// Convergence benchmark: how long one rotation takes to reach every pod, at 10, 100 and 1000 pods.
//
//   npm run bench:convergence -- [--json] [--pods 10,100,1000] [--rotations 20]
//                                [--ats-delay-pods 10,100] [--wide-pods 100] [--ats-delay-ms 300]
//                                [--wide-concurrency 128] [--real-ats-pods 10] [--real-ats-confirm ack,stats]
//                                [--ack-model-pods 100] [--ack-delay-ms 5]
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
// --real-ats-pods: those sizes with REAL ATS 9 processes (the bridge plugin loaded with
// --ack-fifo, stats synced every 100 ms as in the `ats` image) instead of the in-memory bridge:
// the agents (still in this process) use the real Ats9Bridge over each ATS's mgmtapi.sock, once
// per --real-ats-confirm mode: `ack` (the plugin confirms installs over the FIFO, issue 12) and
// `stats` (no ack channel: the agent reads the ring back from the plugin stats). ATS instances
// are restarted between modes (a new TicketKeySet starts again at generation 1).
// --ack-model-pods: in-memory sizes modelling the ack design: the bridge's stats show an install
// after --ats-delay-ms, but the install is confirmed after --ack-delay-ms (the plugin's ack).
// Results: bench/results/convergence.json, merged: a run replaces only the entries of the
// variants it ran (same pods, bridge, confirm, delay, concurrency) and keeps the others (and
// stdout with --json). No key bytes are reported.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { startAgent, type RunningAgent } from '../src/agent/agent.ts';
import type { AtsBridge, InstallReceipt, RingInstall } from '../src/agent/ats-bridge.ts';
import { Ats9Bridge } from '../src/agent/ats9/ats9-bridge.ts';
import { MemoryBridge } from '../src/agent/memory-bridge.ts';
import { ringFingerprint } from '../src/core/fingerprint.ts';
import { startAts, type AtsInstance } from '../src/dev/ats.ts';
import { ANNOTATION_ROTATE_NOW } from '../src/api/names.ts';
import type { TicketKeySet } from '../src/api/index.ts';
import { createDevCerts, issueAgentCert, writeDevCerts, type PemPair } from '../src/dev/certs.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startBenchOperator, type BenchOperator } from './operator-process.ts';
import { FakePods } from '../dev/fake-pods.ts';
import { ticketKeySet, TicketKeySets } from '../dev/ticket-key-sets.ts';
import { REPO_ROOT } from '../dev/testbed/testbed.ts';
import { BenchCleanups } from './cleanups.ts';
import { apiserverRequests, dist, machineFacts, mapBounded as mapBoundedUntil, percentile, procStat, writeResult } from './measure.ts';
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
    'real-ats-pods': { type: 'string', default: '' },
    'real-ats-confirm': { type: 'string', default: 'ack,stats' },
    'ack-model-pods': { type: 'string', default: '' },
    'ack-delay-ms': { type: 'string', default: '5' },
    dir: { type: 'string', default: join(REPO_ROOT, '.tko', 'bench-convergence') },
  },
});
const SIZES = args.pods.trim() === '' ? [] : args.pods.split(',').map((s) => Number(s.trim())); // '' with --real-ats-pods alone
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
const sizeList = (flag: string, v: string) => {
  const out = v === '' ? [] : v.split(',').map((x) => Number(x.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000)) throw new Error(`--${flag}: comma-separated integers in 1..10000`);
  return out;
};
const REAL_ATS_SIZES = sizeList('real-ats-pods', args['real-ats-pods']);
if (REAL_ATS_SIZES.some((n) => n > 50)) throw new Error('--real-ats-pods: at most 50 real ATS processes');
const REAL_ATS_CONFIRM = args['real-ats-confirm'].split(',').map((x) => x.trim());
if (REAL_ATS_CONFIRM.some((c) => c !== 'ack' && c !== 'stats')) throw new Error('--real-ats-confirm: ack and/or stats');
const ACK_MODEL_SIZES = sizeList('ack-model-pods', args['ack-model-pods']);
const ACK_DELAY_MS = Number(args['ack-delay-ms']);
if (!Number.isInteger(ACK_DELAY_MS) || ACK_DELAY_MS < 0 || ACK_DELAY_MS > 1500) throw new Error('--ack-delay-ms: milliseconds in 0..1500');
const DEFAULT_PUSH_CONCURRENCY = 16; // the operator's --push-concurrency default

/** Which ATS stands behind the agents and how an install is confirmed. */
type Variant =
  | { bridge: 'memory'; confirm: 'stats'; delayMs: number }
  | { bridge: 'memory'; confirm: 'ack'; delayMs: number; ackDelayMs: number }
  | { bridge: 'ats'; confirm: 'ack' | 'stats' };
interface Run {
  n: number;
  pushConcurrency: number;
  variant: Variant;
}
const RUNS: Run[] = [
  ...SIZES.map((n) => ({ n, pushConcurrency: DEFAULT_PUSH_CONCURRENCY, variant: { bridge: 'memory', confirm: 'stats', delayMs: 0 } as const })),
  ...DELAY_SIZES.map((n) => ({ n, pushConcurrency: DEFAULT_PUSH_CONCURRENCY, variant: { bridge: 'memory', confirm: 'stats', delayMs: ATS_DELAY_MS } as const })),
  ...WIDE_SIZES.map((n) => ({ n, pushConcurrency: WIDE_CONCURRENCY, variant: { bridge: 'memory', confirm: 'stats', delayMs: ATS_DELAY_MS } as const })),
  ...ACK_MODEL_SIZES.map((n) => ({
    n,
    pushConcurrency: DEFAULT_PUSH_CONCURRENCY,
    variant: { bridge: 'memory', confirm: 'ack', delayMs: ATS_DELAY_MS, ackDelayMs: ACK_DELAY_MS } as const,
  })),
  ...REAL_ATS_SIZES.flatMap((n) =>
    REAL_ATS_CONFIRM.map((confirm) => ({ n, pushConcurrency: DEFAULT_PUSH_CONCURRENCY, variant: { bridge: 'ats', confirm } as Variant })),
  ),
];
const variantLabel = (v: Variant) =>
  v.bridge === 'ats' ? `real ATS, confirmed by ${v.confirm}` : `in-memory ATS, stats delay ${v.delayMs} ms${v.confirm === 'ack' ? `, ack after ${v.ackDelayMs} ms` : ''}`;

/**
 * The in-memory bridge modelling the ack channel: the stats show an install after applyDelayMs,
 * but installWithReceipt confirms it after ackDelayMs, and readInstalled reports the acked ring
 * until the stats show it (as Ats9Bridge's overlay does).
 */
class AckModelBridge extends MemoryBridge {
  readonly ackDelayMs: number;
  #acked: { generation: number; keyCount: number; ringFingerprint: string; until: number } | null = null;
  constructor(applyDelayMs: number, ackDelayMs: number) {
    super();
    this.applyDelayMs = applyDelayMs;
    this.ackDelayMs = ackDelayMs;
  }
  async installWithReceipt(ring: RingInstall): Promise<InstallReceipt | undefined> {
    const before = await this.readInstalled();
    await this.install(ring);
    await sleep(this.ackDelayMs);
    if ((await this.readInstalled()).rejected !== before.rejected) return undefined; // the stats path reports it
    const fp = ringFingerprint(Buffer.concat(ring.keys));
    this.#acked = { generation: ring.generation, keyCount: ring.keys.length, ringFingerprint: fp, until: performance.now() + 3000 };
    return { generation: ring.generation, keyCount: ring.keys.length, ringFingerprint: fp };
  }
  override async readInstalled() {
    const s = await super.readInstalled();
    const a = this.#acked;
    if (a && s.generation < a.generation && performance.now() < a.until) return { ...s, generation: a.generation, keyCount: a.keyCount, ringFingerprint: a.ringFingerprint };
    return s;
  }
}

/** Real ATS instances per size, kept across confirm modes (restarted in between). */
const realFleets = new Map<number, { ats: AtsInstance[]; used: boolean }>();
const realAtsIp = (i: number) => `127.1.210.${i + 1}`;
const ackFifoOf = (ats: AtsInstance) => join(ats.runtimeDir, 'ticketkeys-acks');

async function realFleet(n: number): Promise<AtsInstance[]> {
  let fleet = realFleets.get(n);
  if (!fleet) {
    const t0 = Date.now();
    const ats: AtsInstance[] = [];
    cleanups.push(async () => {
      await mapBounded(ats, 4, (a) => a.stop());
    });
    // A few at a time: each start takes ~4.5 s of a shared CPU.
    await mapBounded(Array.from({ length: n }, (_, i) => i), 3, async (i) => {
      const dir = join(args.dir, 'ats', String(i));
      const a = await startAts({ dir, addr: realAtsIp(i), pluginArgs: [`--ack-fifo=${join(dir, 'run', 'ticketkeys-acks')}`] });
      ats[i] = a;
    });
    log(`N=${n}: ${n} real ATS processes up in ${Date.now() - t0} ms`);
    fleet = { ats, used: false };
    realFleets.set(n, fleet);
    // Stopped with the last cleanup; runSize's own cleanup (agents) is popped per run.
  } else if (fleet.used) {
    const t0 = Date.now();
    await mapBounded(fleet.ats, 3, (a) => a.restart()); // pushed keys and generation gone
    log(`N=${n}: ${n} real ATS processes restarted in ${Date.now() - t0} ms`);
  }
  fleet.used = true;
  return fleet.ats;
}

const log = (line: string) => {
  if (!args.json) process.stderr.write(`[bench:convergence] ${line}\n`);
};

const cleanups = new BenchCleanups(log);

/** 127.1.0.0/16, one address per pod, .1–.250 in each /24 (no test uses this range). */
const podIp = (size: number, i: number) => `127.1.${(size === 1000 ? 100 : size === 100 ? 50 : 0) + Math.floor(i / 250)}.${(i % 250) + 1}`;

/** measure.ts's mapBounded, given up when the run is stopping. */
const mapBounded = <T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> => mapBoundedUntil(items, limit, fn, () => cleanups.stopping);

async function makeBridge(variant: Variant, ats: AtsInstance | undefined): Promise<AtsBridge> {
  if (variant.bridge === 'ats') {
    const target = { socketPath: ats!.mgmtSocket };
    return variant.confirm === 'ack' ? Ats9Bridge.create(target, { ackFifo: ackFifoOf(ats!) }) : new Ats9Bridge(target);
  }
  if (variant.confirm === 'ack') return new AckModelBridge(variant.delayMs, variant.ackDelayMs);
  return Object.assign(new MemoryBridge(), { applyDelayMs: variant.delayMs });
}

/** Sum of one labelled counter over every agent. */
async function sumCounter(agents: RunningAgent[], pick: (a: RunningAgent) => { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }, label: string) {
  const out: Record<string, number> = {};
  for (const a of agents) for (const v of (await pick(a).get()).values) out[String(v.labels[label])] = (out[String(v.labels[label])] ?? 0) + v.value;
  return out;
}

// ---- one size ----
interface Sample {
  stagedMs: number;
  promotedMs: number;
  statusConvergedMs: number | null;
}

async function runSize(kc: KubeConfig, kubeconfig: string, n: number, variant: Variant, pushConcurrency: number, operatorRef: { op?: BenchOperator }, certs: Awaited<ReturnType<typeof createDevCerts>>, files: Awaited<ReturnType<typeof writeDevCerts>>) {
  const delayMs = variant.bridge === 'memory' ? variant.delayMs : 0;
  const tag = variant.bridge === 'ats' ? `-ats-${variant.confirm}` : `${delayMs ? `-delay${delayMs}` : ''}${variant.confirm === 'ack' ? '-ack' : ''}`;
  const namespace = `bench-conv-${n}${tag}${pushConcurrency !== DEFAULT_PUSH_CONCURRENCY ? `-c${pushConcurrency}` : ''}`;
  const fleetAts = variant.bridge === 'ats' ? await realFleet(n) : undefined;
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  const names = Array.from({ length: n }, (_, i) => `ats-${i}`);
  const ips = names.map((_, i) => (fleetAts ? realAtsIp(i) : podIp(n, i)));

  let t0 = Date.now();
  const pemPairs: PemPair[] = await mapBounded(names, 8, (pod) => issueAgentCert(certs.ca, { namespace, pod }));
  const certIssueMs = Date.now() - t0;
  log(`N=${n}: ${n} per-pod agent certificates issued in ${certIssueMs} ms`);

  const logger = createLogger({ component: 'bench-agent', level: 'error' });
  const clientCa = await readFile(files.caCert, 'utf8');
  t0 = Date.now();
  const bridges: AtsBridge[] = new Array<AtsBridge>(n);
  const agents: RunningAgent[] = await mapBounded(names, 16, async (_, i) =>
    startAgent({
      listen: { host: ips[i]!, port: AGENT_PORT },
      healthListen: { host: ips[i]!, port: 0 },
      tls: { cert: pemPairs[i]!.cert, key: pemPairs[i]!.key, clientCa },
      bridge: (bridges[i] = await makeBridge(variant, fleetAts?.[i])),
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
  const confirmations = await sumCounter(agents, (a) => a.metrics.installConfirmations, 'via');
  const installResults = await sumCounter(agents, (a) => a.metrics.installs, 'result');
  const reasserts = await sumCounter(agents, (a) => a.metrics.reasserts, 'result');
  const ackRecords: Record<string, number> = {};
  for (const b of bridges) {
    for (const [k, v] of Object.entries(b.ackChannelStats?.()?.records ?? {})) ackRecords[k] = (ackRecords[k] ?? 0) + v;
  }
  const durations = await Promise.all(agents.map(async (a) => (await a.metrics.installDuration.get()).values));
  const sumOf = (suffix: string) => durations.flat().filter((v) => v.metricName?.endsWith(suffix)).reduce((x, v) => x + v.value, 0);
  const installCount = sumOf('_count');
  const target = TARGET_P50_MS[n];
  const p50 = percentile(full, 50);
  return {
    pods: n,
    atsStatsDelayMs: delayMs,
    bridge: variant.bridge === 'ats' ? 'real-ats' : 'memory',
    confirm: variant.confirm,
    ...(variant.bridge === 'memory' && variant.confirm === 'ack' ? { ackDelayMs: variant.ackDelayMs } : {}),
    pushConcurrency,
    rotations,
    agentInstallConfirmations: confirmations,
    agentPutResults: installResults,
    agentReasserts: reasserts,
    ...(Object.keys(ackRecords).length ? { agentAckRecords: ackRecords } : {}),
    agentInstallMeanMs: installCount > 0 ? Math.round((sumOf('_sum') / installCount) * 10000) / 10 : null,
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
  for (const { n, variant, pushConcurrency } of RUNS) {
    if (cleanups.stopping) break;
    try {
      const r = await runSize(kc, testbed.kubeconfig, n, variant, pushConcurrency, operatorRef, certs, files);
      sizes.push(r);
      log(`N=${n} (${variantLabel(variant)}, push concurrency ${pushConcurrency}): confirmations ${JSON.stringify(r.agentInstallConfirmations)}, mean install ${r.agentInstallMeanMs} ms; full rotation p50 ${r.fullRotationAllAckedMs.p50} ms, p99 ${r.fullRotationAllAckedMs.p99} ms; operator ${r.operator.cpuSecondsPerRotation} CPU s/rotation, RSS ${r.operator.rssMbAfter} MB; ${r.apiRequestsPerRotationTotal} API requests/rotation`);
    } catch (err) {
      log(`N=${n}: failed: ${(err as Error).message}`);
      sizes.push({
        pods: n,
        atsStatsDelayMs: variant.bridge === 'memory' ? variant.delayMs : 0,
        bridge: variant.bridge === 'ats' ? 'real-ats' : 'memory',
        confirm: variant.confirm,
        pushConcurrency,
        error: (err as Error).message.slice(0, 500),
      });
    }
    // Each size's operator and agents stop before the next size starts.
    await operatorRef.op?.stop();
    operatorRef.op = undefined;
    const c = cleanups.pop();
    if (c && !cleanups.stopping) await c();
  }

  // Merge: this run's entries replace those of the same variant; every other entry stays.
  const now = new Date().toISOString();
  const keyOf = (e: Record<string, unknown>) =>
    [e.pods, e.bridge ?? 'memory', e.confirm ?? 'stats', e.atsStatsDelayMs ?? 0, e.ackDelayMs ?? '', e.pushConcurrency].join('|');
  let previous: { date?: string; sizes?: Array<Record<string, unknown>> } = {};
  try {
    previous = JSON.parse(await readFile(RESULT_FILE, 'utf8')) as typeof previous;
  } catch {
    // first run
  }
  const fresh = new Set(sizes.map(keyOf));
  const merged = [
    ...(previous.sizes ?? []).filter((e) => !fresh.has(keyOf(e))).map((e) => ({ measuredAt: previous.date, ...e })),
    ...sizes.map((e) => ({ measuredAt: now, ...e })),
  ];
  const result = {
    benchmark: 'convergence',
    date: now,
    ...(await machineFacts()),
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
      'only after that long, as real ATS publishes its stats late (the agent answers a PUT only once its read-back sees the ring). ' +
      'bridge real-ats: N real ATS 9 processes (traffic_manager + traffic_server, 1 exec thread each, the ticketkeys_bridge plugin ' +
      'with --ack-fifo, stats synced every 100 ms as in the ats image) on 127.1.210.x, the agents (still in this process, ' +
      're-assert every 2 s) on the real Ats9Bridge over each mgmtapi.sock; confirm ack: installs confirmed by the plugin over ' +
      'its ack FIFO (issue 12), confirm stats: read back from the plugin stats; agentInstallConfirmations counts which path each ' +
      'install took, agentInstallMeanMs is the agents\' mean PUT install time. bridge memory with confirm ack: the in-memory ' +
      'bridge still shows installs in its stats only after atsStatsDelayMs, but confirms them after ackDelayMs (the ack channel ' +
      'model). Entries carry measuredAt: a run replaces only the variants it measured. Runs from 2026-12-06T19:00Z shared the ' +
      '2 CPUs with other work (other agents\' builds and tests), so absolute times are pessimistic.',
    rotationsPerSize: ROTATIONS,
    sizes: merged,
    fileBasedAlternative: FILE_BASED,
  };
  await writeResult(RESULT_FILE, result, args.json, log);
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await cleanups.run();
}
process.exit(exitCode);
