// `npm run local`: the path a user takes, end to end, on this machine. Builds the images from the
// Dockerfile (cached), brings up the project's single-node cluster (kubelet, containerd, CNI),
// `helm install`s the chart, applies the ATS example (examples/ats.yaml: ATS with the bridge
// plugin and the agent sidecar) and a TicketKeySet that rotates every --interval, then shows its
// live status and a TLS client that resumes its last session on the next pod, round-robin,
// through the rotations. Ctrl-C (or --duration) takes the whole cluster down again.
// `npm run local:fast` is the older stack without kubelet (real ATS processes on loopback).
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { durationOption, usageError } from './cli-options.ts';
import { printLiveView, reportFatal } from './live-view.ts';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { startCluster } from '../cluster/cluster.ts';
import { ATS_TLS_PORT, clusterTools, deployAtsExample, installOperator, kubectl, SERVERNAME } from '../cluster/demo.ts';
import { ensureImages } from '../cluster/images/ensure-images.ts';
import { join } from 'node:path';
import { DEFAULT_STATE_DIR, REPO_ROOT, layout } from '../cluster/layout.ts';
import { stopCluster } from '../cluster/teardown.ts';
import { GROUP, PLURAL, VERSION } from '../src/api/names.ts';
import type { TicketKeySet } from '../src/api/index.ts';
import { formatDuration } from '../src/core/duration.ts';
import { tlsProbe } from '../dev/tls-probe.ts';

const { values: opts } = parseArgs({
  options: {
    pods: { type: 'string', default: '3' },
    interval: { type: 'string', default: '30s' },
    duration: { type: 'string' },
    refresh: { type: 'string', default: '3s' },
    dir: { type: 'string', default: DEFAULT_STATE_DIR },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log('usage: npm run local -- [--pods 3] [--interval 30s] [--duration 5m (of live view; default until Ctrl-C)] [--refresh 3s] [--dir .tko/cluster]');
  process.exit(0);
}

const COMMAND = 'npm run local';
const usage = (message: string): never => usageError(COMMAND, message);
const duration = (flag: string, value: string): number => durationOption(COMMAND, flag, value);
const podCount = Number(opts.pods);
if (!Number.isInteger(podCount) || podCount < 1 || podCount > 10) usage(`--pods ${opts.pods}: must be an integer from 1 to 10`);
const intervalMs = duration('--interval', opts.interval);
if (intervalMs < 10_000) usage(`--interval ${opts.interval}: at least 10s`);
const refreshMs = duration('--refresh', opts.refresh);
const durationMs = opts.duration !== undefined ? duration('--duration', opts.duration) : Infinity;
// The CRD wants promotion.timeout < rotation.interval.
const promotionTimeout = formatDuration(Math.min(60_000, Math.floor(intervalMs / 3)));

const NAMESPACE = 'demo';
const NAME = 'edge';
const log = (line: string) => console.log(`[local] ${line}`);
const l = layout(opts.dir);
let started = false;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (started) {
      log('taking the cluster down…');
      await stopCluster(l, log).catch((err: unknown) => log(`down: ${(err as Error).message}`));
    }
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  const t0 = Date.now();
  log('images from the Dockerfile (the first run builds them: a few minutes)…');
  const built = await ensureImages({ log: (line) => log(line) });
  const images = { tko: built.find((i) => i.name === 'tko')!.ref, ats: built.find((i) => i.name === 'ats')!.ref };
  log(`cluster in ${l.dir} (the first run builds kubelet and friends from Go modules)…`);
  // startCluster cleans up a start that fails half-way itself, and refuses (touching nothing)
  // when a cluster already runs: only a cluster this run started is taken down below.
  const cluster = await startCluster({ dir: l.dir, images: built.filter((i) => i.name !== 'ats-plugin').map((i) => i.archive), log });
  started = true;
  const tools = await clusterTools(cluster);
  const kc = cluster.adminKubeConfig();
  log(`cluster up in ${((Date.now() - t0) / 1000).toFixed(0)}s; export KUBECONFIG=${cluster.kubeconfig} (kubectl: ${cluster.kubectl})`);

  log('helm install tko charts/ticket-key-operator …');
  await installOperator(tools, images.tko);
  log(`applying examples/ats.yaml (${podCount} ATS pods) and a TicketKeySet rotating every ${opts.interval}…`);
  await deployAtsExample(tools, kc, NAMESPACE, images);
  await kubectl(tools, 'scale', '-n', NAMESPACE, 'deployment/ats', `--replicas=${podCount}`);
  const core = kc.makeApiClient(CoreV1Api);
  // ATS hints a ticket lifetime of its session cache timeout (2h unless set); at the demo's pace
  // tickets live one interval, so say so, as the ConfigConsistent condition would ask.
  const config = await core.readNamespacedConfigMap({ namespace: NAMESPACE, name: 'ats-config' });
  const records = `${config.data?.['records.config'] ?? ''}CONFIG proxy.config.ssl.session_cache.timeout INT ${Math.floor(intervalMs / 1000)}\n`;
  await core.replaceNamespacedConfigMap({ namespace: NAMESPACE, name: 'ats-config', body: { ...config, data: { ...config.data, 'records.config': records } } });
  const custom = kc.makeApiClient(CustomObjectsApi);
  // The example as it is, then the demo's pace (the example rotates every 12h).
  await kubectl(tools, 'apply', '-n', NAMESPACE, '-f', join(REPO_ROOT, 'examples', 'ticketkeyset-ats.yaml'));
  await kubectl(tools, 'patch', '-n', NAMESPACE, 'tks', NAME, '--type=merge', '-p', JSON.stringify({ spec: { rotation: { interval: opts.interval }, promotion: { timeout: promotionTimeout } } }));
  const get = async () => (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: NAMESPACE, name: NAME })) as TicketKeySet;
  const readyIps = async () =>
    (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app.kubernetes.io/name=ats' })).items
      .filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && p.status.podIP)
      .map((p) => p.status!.podIP!)
      .sort();

  log('waiting until every pod holds the first ring and is Ready…');
  for (;;) {
    const status = (await get()).status;
    if (status?.pods?.converged === podCount && status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && (await readyIps()).length === podCount) break;
    await sleep(500);
  }
  log(`ready ${((Date.now() - t0) / 1000).toFixed(0)}s after the start`);
  const deadline = Date.now() + durationMs; // --duration counts the live view, not the set-up

  let session: Buffer | undefined;
  let next = 0;
  const tally = { resumed: 0, failed: 0, fresh: 0 };
  while (Date.now() < deadline) {
    const ips = await readyIps();
    const ip = ips[next++ % Math.max(1, ips.length)];
    const probe = ip ? await tlsProbe({ host: ip, port: ATS_TLS_PORT, tls: '1.3', session, servername: SERVERNAME }).catch(() => undefined) : undefined;
    if (probe) {
      if (session === undefined) tally.fresh++;
      else if (probe.resumed) tally.resumed++;
      else tally.failed++;
      session = probe.newSession ?? session;
    }
    printLiveView({
      tks: await get(),
      tally,
      over: ` over ${ips.length} pod IPs`,
      ...(probe && ip ? { last: { target: ip, resumed: probe.resumed } } : {}),
      footer: `KUBECONFIG=${cluster.kubeconfig} ${cluster.kubectl} get tks,pods -n ${NAMESPACE}    Ctrl-C takes the cluster down.`,
    });
    await sleep(refreshMs);
  }
  log(`done: ${tally.resumed} resumed, ${tally.failed} failed`);
  await shutdown(tally.failed > 0 ? 1 : 0);
} catch (err) {
  if (!stopping) {
    reportFatal(COMMAND, err);
    await shutdown(1);
  }
}
