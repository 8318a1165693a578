// `npm run local:fast`: the whole system on this machine without kubelet (`npm run local` runs
// the real cluster). A kube-apiserver + etcd test bed,
// N "pods" (Pod objects at 127.0.0.N whose status this script writes, as a kubelet would), each
// with a real ATS (bridge plugin loaded) and a real `tko agent`, the real `tko operator`, and a
// TicketKeySet that rotates every --interval. It prints the live status and, on every refresh, a
// TLS client that resumes its last session on the next pod round-robin (the property we sell:
// resumption never fails, whichever pod the load balancer picks, even across rotations).
// Ctrl-C (or --duration) stops everything it started.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { durationOption, usageError } from './cli-options.ts';
import { printLiveView, reportFatal } from './live-view.ts';
import { CoreV1Api } from '@kubernetes/client-node';
import { READINESS_GATE_CONDITION_TYPE } from '../src/api/names.ts';
import type { TicketKeySet } from '../src/api/index.ts';
import { formatDuration } from '../src/core/duration.ts';
import { Fleet } from '../dev/fleet.ts';
import { spawnOperator, type SpawnedOperator } from '../dev/operator-process.ts';
import { ticketKeySet, TicketKeySets } from '../dev/ticket-key-sets.ts';
import { tlsProbe } from '../dev/tls-probe.ts';
import { REPO_ROOT, startTestbed, stopTestbed } from '../dev/testbed/testbed.ts';
import { ensureTestbedBinaries } from '../dev/testbed/tools.ts';
import { processAlive } from '../dev/testbed/processes.ts';

const { values: opts } = parseArgs({
  options: {
    pods: { type: 'string', default: '3' },
    interval: { type: 'string', default: '30s' },
    'ticket-lifetime': { type: 'string', default: '1m' },
    duration: { type: 'string' },
    refresh: { type: 'string', default: '3s' },
    dir: { type: 'string', default: join(REPO_ROOT, '.tko', 'local') },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(`usage: npm run local:fast -- [--pods 3] [--interval 30s] [--ticket-lifetime 1m] [--duration 2m] [--refresh 3s] [--dir .tko/local]`);
  process.exit(0);
}

const NAMESPACE = 'demo';
const NAME = 'edge';
const AGENT_PORT = 9443;
const TLS_PORT = 18443;
const COMMAND = 'npm run local:fast';
const usage = (message: string): never => usageError(COMMAND, message);
const duration = (flag: string, value: string): number => durationOption(COMMAND, flag, value);
const podCount = Number(opts.pods);
if (!Number.isInteger(podCount) || podCount < 1 || podCount > 20) usage(`--pods ${opts.pods}: must be an integer from 1 to 20`);
const refreshMs = duration('--refresh', opts.refresh);
const intervalMs = duration('--interval', opts.interval);
duration('--ticket-lifetime', opts['ticket-lifetime']);
const deadline = opts.duration !== undefined ? Date.now() + duration('--duration', opts.duration) : Infinity;
// The CRD wants promotion.timeout < rotation.interval; 10 s, or a third of a short interval.
const promotionTimeout = formatDuration(Math.max(1000, Math.min(10_000, Math.floor(intervalMs / 3))));

const log = (line: string) => console.log(`[local] ${line}`);
const cleanups: Array<() => Promise<unknown>> = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log('stopping everything…');
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

/** One stack per directory: a second start would stop the first's processes and delete its files. */
function claimDirectory(dir: string): void {
  const lock = join(dir, 'local-stack.pid');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    const alive = Number.isInteger(pid) && pid > 0 && processAlive(pid);
    if (alive && pid !== process.pid) usage(`another local stack (pid ${pid}) runs in ${dir}; stop it (Ctrl-C) or pass --dir`);
  }
}

try {
  claimDirectory(opts.dir);
  await rm(opts.dir, { recursive: true, force: true });
  await mkdir(opts.dir, { recursive: true });
  writeFileSync(join(opts.dir, 'local-stack.pid'), `${process.pid}\n`);
  cleanups.push(() => rm(join(opts.dir, 'local-stack.pid'), { force: true }));

  log('building or finding kube-apiserver, etcd (first run builds them from Go modules: ~15 min)…');
  const binaries = await ensureTestbedBinaries({ log: (l: string) => log(l) });
  // Registered before the start: a start that fails half-way (etcd up, API server not) stops what it recorded.
  cleanups.push(() => stopTestbed(join(opts.dir, 'testbed')));
  const testbed = await startTestbed({ dir: join(opts.dir, 'testbed'), binaries });
  log(`API server ${testbed.server}; kubeconfig ${testbed.kubeconfig}`);
  process.env.TKO_TEST_KUBECONFIG = testbed.kubeconfig; // the operator helper dials this cluster
  const kc = testbed.adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  // What kube-controller-manager would add, and pod admission requires.
  await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: 'default' } } });

  const fleet = await Fleet.create({ kc, namespace: NAMESPACE, port: AGENT_PORT });
  cleanups.push(() => fleet.close());
  const podNames = Array.from({ length: podCount }, (_, i) => `ats-${i}`);
  for (const [i, name] of podNames.entries()) {
    await fleet.add(name, { ip: `127.0.0.${230 + i}`, labels: { app: 'ats' }, ats: true, tlsPort: TLS_PORT, readinessGates: [READINESS_GATE_CONDITION_TYPE] });
    log(`pod ${name}: ATS on 127.0.0.${230 + i}:${TLS_PORT}, agent on 127.0.0.${230 + i}:${AGENT_PORT}`);
  }

  const operator: SpawnedOperator = await spawnOperator({ certs: fleet.files, namespaces: [NAMESPACE], leaderElect: false });
  cleanups.push(() => operator.stop());
  log(`operator running; metrics at ${operator.metricsUrl}/metrics`);

  const tks = new TicketKeySets(kc, NAMESPACE);
  await tks.create(
    ticketKeySet(NAME, {
      selector: { matchLabels: { app: 'ats' } },
      rotation: { interval: opts.interval },
      ticketLifetime: opts['ticket-lifetime'],
      promotion: { timeout: promotionTimeout },
      agent: { port: AGENT_PORT },
    }),
  );
  log(`TicketKeySet ${NAMESPACE}/${NAME} rotates every ${opts.interval}; try: KUBECONFIG=${testbed.kubeconfig} npm run tko -- status ${NAME} -n ${NAMESPACE}`);

  // Probe only once every pod holds the first ring: a session issued under ATS's own random
  // start-up key could never resume elsewhere, and would say nothing about rotations.
  log('waiting until every pod holds the first ring…');
  for (;;) {
    for (const name of podNames) await fleet.pods.syncReadiness(name);
    const status = ((await tks.get(NAME)) as unknown as TicketKeySet).status;
    if (status?.pods?.converged === podCount && status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
    await sleep(200);
  }

  let session: Buffer | undefined;
  let next = 0;
  const tally = { resumed: 0, failed: 0, fresh: 0 };
  while (Date.now() < deadline) {
    // The kubelet's part: a pod is Ready once its readiness gate (set by the operator) is True.
    for (const name of podNames) await fleet.pods.syncReadiness(name);
    const pod = podNames[next++ % podNames.length]!;
    const probe = await tlsProbe({ host: fleet.get(pod).ip, port: TLS_PORT, tls: '1.3', session, servername: 'ats.local' }).catch((err: unknown) => {
      log(`TLS probe to ${pod} failed: ${(err as Error).message}`);
      return undefined;
    });
    if (probe) {
      if (session === undefined) tally.fresh++;
      else if (probe.resumed) tally.resumed++;
      else tally.failed++;
      session = probe.newSession ?? session;
    }
    printLiveView({
      tks: (await tks.get(NAME)) as unknown as TicketKeySet,
      tally,
      over: '',
      ...(probe ? { last: { target: pod, resumed: probe.resumed } } : {}),
      footer: 'Ctrl-C stops the stack.',
    });
    await sleep(refreshMs);
  }
  log(`done: ${tally.resumed} resumed, ${tally.failed} failed`);
  await shutdown(tally.failed > 0 ? 1 : 0);
} catch (err) {
  // Errors while stopping (the API server is going away under the loop) are not news.
  if (!stopping) {
    reportFatal(COMMAND, err);
    await shutdown(1);
  }
}
