// What a user does on the cluster, as functions the main job (`npm run local`) and the cluster
// tests share: `helm install` the chart with the images built from the Dockerfile, then the
// ATS example (examples/ats.yaml with its serving certificate, and a TicketKeySet), with the
// real helm and kubectl binaries.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { createCa, issueCert } from '../src/pki/x509.ts';
import { cachedTestbedBinaries, ensureTestbedBinaries } from '../dev/testbed/tools.ts';
import { REPO_ROOT } from './layout.ts';

const run = promisify(execFile);

/** The names `npm run images:build` gives; the chart and examples/ats.yaml use these. */
export const DEFAULT_IMAGES = { tko: 'docker.io/ticketkeys/tko:dev', ats: 'docker.io/ticketkeys/ats:dev' };
export const RELEASE = 'tko';
export const OPERATOR_NAMESPACE = 'tko-system';
export const OPERATOR_NAME = `${RELEASE}-ticket-key-operator`;
export const SERVERNAME = 'ats.demo';
export const ATS_TLS_PORT = 8443;

export interface ClusterTools {
  kubeconfig: string;
  kubectl: string;
  helm: string;
}

export async function clusterTools(cluster: { kubeconfig: string; kubectl: string }): Promise<ClusterTools> {
  return { ...cluster, helm: (cachedTestbedBinaries() ?? (await ensureTestbedBinaries())).helm };
}

/** helm with this cluster's kubeconfig and its own config/cache dirs (no user's helm leaks in). */
export async function helm(t: ClusterTools, ...args: string[]): Promise<string> {
  const home = join(REPO_ROOT, '.tko', 'helm');
  const { stdout } = await run(t.helm, [...args, '--kubeconfig', t.kubeconfig], {
    cwd: REPO_ROOT,
    env: { ...process.env, HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data') },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

export async function kubectl(t: ClusterTools, ...args: string[]): Promise<string> {
  const { stdout } = await run(t.kubectl, ['--kubeconfig', t.kubeconfig, ...args], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** `helm install` of charts/ticket-key-operator with the local tko image; waits for Ready pods. */
export async function installOperator(t: ClusterTools, tkoImage: string, extra: string[] = []): Promise<void> {
  const [repository, tag] = tkoImage.split(/:(?=[^:]+$)/);
  await helm(t, 'install', RELEASE, 'charts/ticket-key-operator', '--namespace', OPERATOR_NAMESPACE, '--create-namespace',
    '--set', `image.repository=${repository}`, '--set', `image.tag=${tag}`, '--set', 'image.pullPolicy=Never', ...extra, '--wait', '--timeout', '180s');
}

/**
 * The namespace, the certificate clients see (made now: a key is never committed), and
 * examples/ats.yaml with the given images, applied by kubectl. The TicketKeySet is the caller's.
 */
export async function deployAtsExample(t: ClusterTools, kc: KubeConfig, namespace: string, images: { tko: string; ats: string }): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const ca = await createCa();
  const serving = await issueCert(ca, { commonName: SERVERNAME, usage: 'server', dnsNames: [SERVERNAME], days: 7 });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'ats-serving-tls' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': serving.cert, 'tls.key': serving.key } } });
  const manifests = readFileSync(join(REPO_ROOT, 'examples', 'ats.yaml'), 'utf8')
    .replaceAll(DEFAULT_IMAGES.ats, images.ats)
    .replaceAll(DEFAULT_IMAGES.tko, images.tko);
  const dir = join(REPO_ROOT, '.tko');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `examples-ats-${namespace}.yaml`);
  writeFileSync(file, manifests);
  await kubectl(t, 'apply', '-n', namespace, '-f', file);
}
