// The Helm chart as a cluster would get it: rendered by the test bed's own helm binary
// (`helm template`, built from the pinned module by the jest global setup), and its objects
// applied to the test bed. Also an identity that authenticates as the chart's ServiceAccount.
//
//   const objects = await renderChart({ release: 'tko-x', namespace: opNs, set: { watchNamespaces: ['a'] } });
//   const applied = await applyObjects(testKubeConfig(), objects.filter(isRbacObject));
//   await deleteObjects(testKubeConfig(), applied)
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { identityKubeconfigParts } from '../../dev/testbed/testbed.ts';
import { kubeconfigYaml } from '../../dev/testbed/kubeconfig.ts';
import { cachedTestbedBinaries, ensureTestbedBinaries } from '../../dev/testbed/tools.ts';
import { statusOf, testbedDir } from './kube.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART_DIR = join(REPO, 'charts', 'ticket-key-operator');
/** The Kubernetes version the chart is rendered for (the test bed runs 1.36). */
export const KUBE_VERSION = '1.36.0';

export type ChartObject = KubernetesObject & { [key: string]: unknown };

export interface RenderOptions {
  release: string;
  namespace: string;
  /** Values passed with --set-json (one flag per key). */
  set?: Record<string, unknown>;
}

async function helmPath(): Promise<string> {
  return (cachedTestbedBinaries() ?? (await ensureTestbedBinaries())).helm;
}

function templateArgs(o: RenderOptions): string[] {
  const args = ['template', o.release, CHART_DIR, '--namespace', o.namespace, '--kube-version', KUBE_VERSION];
  for (const [key, value] of Object.entries(o.set ?? {})) args.push('--set-json', `${key}=${JSON.stringify(value)}`);
  return args;
}

async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(await helmPath(), args, {
    cwd: REPO,
    maxBuffer: 16 * 1024 * 1024,
    // No user config or cache of the machine's helm leaks in.
    env: { ...process.env, HELM_CONFIG_HOME: join(tmpdir(), 'tko-helm-config'), HELM_CACHE_HOME: join(tmpdir(), 'tko-helm-cache'), HELM_DATA_HOME: join(tmpdir(), 'tko-helm-data') },
  });
}

/** `helm template` that is expected to fail: its error output (throws if it rendered). */
export async function renderChartError(o: RenderOptions): Promise<string> {
  try {
    await helm(templateArgs(o));
  } catch (err) {
    return String((err as { stderr?: unknown }).stderr ?? err);
  }
  throw new Error(`helm template rendered with ${JSON.stringify(o.set)}`);
}

/** `helm template RELEASE charts/ticket-key-operator --namespace NS --kube-version 1.36.0 …`, parsed. */
export async function renderChart(o: RenderOptions): Promise<ChartObject[]> {
  const { stdout } = await helm(templateArgs(o));
  // Plain YAML parsing (client-node's loadAllYaml chokes on the empty documents helm leaves).
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as unknown)
    .filter((x): x is ChartObject => x !== null && typeof x === 'object');
}

const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

export function isRbacObject(o: ChartObject): boolean {
  return RBAC_KINDS.has(o.kind ?? '');
}

export function describeObject(o: KubernetesObject): string {
  return `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;
}

/** Creates the objects as they are (the admin's kubeconfig); returns them for deleteObjects. */
export async function applyObjects(kc: KubeConfig, objects: ChartObject[]): Promise<ChartObject[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const created: ChartObject[] = [];
  for (const o of objects) {
    try {
      await api.create(o);
    } catch (err) {
      throw new Error(`cannot create ${describeObject(o)}: ${(err as Error).message}`);
    }
    created.push(o);
  }
  return created;
}

/** Deletes objects (cluster-scoped ones outlive the test namespaces), ignoring those gone. */
export async function deleteObjects(kc: KubeConfig, objects: ChartObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const o of [...objects].reverse()) {
    await api.delete({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace } } as KubernetesObject).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw err;
    });
  }
}

/** The identity the API server gives a pod running as ServiceAccount NAMESPACE/NAME. */
export function serviceAccountIdentity(namespace: string, name: string): { user: string; groups: string[] } {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

/** A kubeconfig file authenticating as the identity (a client certificate); remove() deletes it. */
export async function writeKubeconfigFile(identity: { user: string; groups: string[] }): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tko-kubeconfig-'));
  const path = join(dir, 'kubeconfig');
  await writeFile(path, kubeconfigYaml(await identityKubeconfigParts(testbedDir(), identity)), { mode: 0o600 });
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}
