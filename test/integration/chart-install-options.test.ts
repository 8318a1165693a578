// The chart's install-time options against the real helm and a real API server:
//  - values.schema.json turns bad values into readable errors that name the value;
//  - the optional objects (PodDisruptionBudget, agents' NetworkPolicy, CRD upgrade hooks) are
//    accepted by the API server (server-side dry run), so a typo in them cannot pass synth;
//  - the CRD upgrade hook does its job with only its own permissions: as the hook's
//    ServiceAccount, `tko crd apply` with the file Helm puts in the hook's ConfigMap brings a
//    drifted CRD back to the chart's version, and that identity may touch nothing else.
import { afterAll, describe, expect, it } from '@jest/globals';
import { ApiextensionsV1Api, AuthorizationV1Api, KubernetesObjectApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CRD_NAME } from '../../src/api/names.ts';
import { CRD_FIELD_MANAGER } from '../../src/cli/crd.ts';
import { CRD_FILE_NAME } from '../../src/manifests/crd-upgrade-hook.ts';
import { describeObject, renderChart, renderChartError, serviceAccountIdentity, writeKubeconfigFile, applyObjects, deleteObjects, type ChartObject } from '../helpers/helm.ts';
import { kubeRequest, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { applyCrds, readCrds } from '../../dev/testbed/crds.ts';

const opNs = useNamespace('chart-options');
const atsNs = useNamespace('chart-options-ats');
const TKO = join(process.cwd(), 'src', 'cli', 'main.ts');

describe('values.schema.json', () => {
  it.each([
    ['replicas below 1', { replicas: 0 }, "at '/replicas': minimum: got 0, want 1"],
    ['a misspelt key', { replica: 2 }, "additional properties 'replica' not allowed"],
    ['an unknown log level', { logLevel: 'verbose' }, "at '/logLevel': 'anyOf' failed"],
    ['a duration in words', { kubeTimeout: '15 seconds' }, "at '/kubeTimeout': '15 seconds' does not match pattern"],
    ['a privileged metrics port', { metrics: { port: 80 } }, "at '/metrics/port': minimum: got 80, want 1,024"],
    ['an invalid namespace name', { watchNamespaces: ['Team_A'] }, "at '/watchNamespaces/0': 'Team_A' does not match pattern"],
    ['a memory limit that is no quantity', { resources: { limits: { memory: 'lots' } } }, "at '/resources/limits/memory'"],
    ['an image pull policy Kubernetes does not know', { image: { pullPolicy: 'Sometimes' } }, "at '/image/pullPolicy'"],
    ['the agents\' NetworkPolicy without a namespace', { networkPolicy: { enabled: true } }, 'networkPolicy.enabled needs networkPolicy.namespaces or watchNamespaces'],
  ])('refuses %s with a message naming the value', async (_what, set, message) => {
    const error = await renderChartError({ release: 'tko-schema', namespace: opNs.name, set });
    expect(error).toContain(message);
    expect(error).not.toMatch(/goroutine|panic/);
  });
});

describe('optional chart objects on a real API server', () => {
  const created: ChartObject[] = [];
  afterAll(async () => {
    await deleteObjects(testKubeConfig(), created);
  });

  it('renders a PodDisruptionBudget only with more replicas than minAvailable', async () => {
    const kinds = async (set: Record<string, unknown>) => (await renderChart({ release: 'tko-pdb', namespace: opNs.name, set })).map((o) => o.kind);
    expect(await kinds({})).toContain('PodDisruptionBudget');
    expect(await kinds({ replicas: 1 })).not.toContain('PodDisruptionBudget');
    expect(await kinds({ podDisruptionBudget: { enabled: false } })).not.toContain('PodDisruptionBudget');
  });

  it('is accepted by the API server (server-side dry run), with every other ATS port left open', async () => {
    const objects = await renderChart({
      release: 'tko-opts',
      namespace: opNs.name,
      set: { networkPolicy: { enabled: true, namespaces: [atsNs.name], agentPort: 9443 }, crds: { upgrade: true } },
    });
    const policy = objects.find((o) => o.kind === 'NetworkPolicy') as ChartObject & { spec: { ingress: Array<{ ports: unknown[] }> } };
    expect(policy.metadata?.namespace).toBe(atsNs.name);
    expect(policy.spec.ingress[0]!.ports).toEqual([{ port: 9443, protocol: 'TCP' }]);
    expect(policy.spec.ingress[1]!.ports).toEqual([
      { port: 1, endPort: 9442, protocol: 'TCP' },
      { port: 9444, endPort: 65535, protocol: 'TCP' },
      { port: 1, endPort: 65535, protocol: 'UDP' },
    ]);
    const api = KubernetesObjectApi.makeApiClient(testKubeConfig());
    for (const o of objects) {
      await expect(api.create(o, undefined, 'All').then(() => describeObject(o))).resolves.toBe(describeObject(o));
    }
  });

  it('asks cert-manager for the operator and workload certificates (agentTLS.mode certManager), accepted by a strict dry run', async () => {
    const crds = readCrds(join(process.cwd(), 'test', 'fixtures')).filter((c) => c.spec.group === 'cert-manager.io');
    await applyCrds(testKubeConfig(), crds);
    try {
      const objects = await renderChart({
        release: 'tko-cm',
        namespace: opNs.name,
        set: { agentTLS: { mode: 'certManager', certManager: { clusterResourceNamespace: opNs.name, agentWorkloads: [{ namespace: atsNs.name, serviceAccount: 'ats' }] } } },
      });
      const certs = objects.filter((o) => o.kind === 'Certificate') as Array<ChartObject & { spec: { uris?: string[]; secretName: string; usages: string[] } }>;
      expect(certs.map((c) => [c.metadata?.namespace, c.spec.secretName, c.spec.uris ?? [], c.spec.usages]).sort()).toEqual(
        [
          [atsNs.name, 'ticketkeys-agent-ats', [`spiffe://ticketkeys.dev/ns/${atsNs.name}/sa/ats`], ['digital signature', 'server auth', 'client auth']],
          [opNs.name, 'ticket-key-operator-agent-client', ['spiffe://ticketkeys.dev/operator'], ['digital signature', 'client auth']],
          [opNs.name, 'tko-cm-ticket-key-operator-agent-ca', [], undefined],
        ].sort(),
      );
      expect(objects.filter((o) => o.kind === 'ClusterIssuer').map((o) => o.metadata?.name).sort()).toEqual(['tko-cm-ticket-key-operator-agent-ca', 'tko-cm-ticket-key-operator-selfsigned']);
      // The operator reads the files of that Secret (no PKI of its own, no PKI Role).
      const args = (objects.find((o) => o.kind === 'Deployment') as ChartObject & { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }).spec.template.spec.containers[0]!.args;
      expect(args).toContain('--agent-client-cert=/var/run/secrets/ticketkeys.dev/agent-client/tls.crt');
      expect(args.some((a) => a.startsWith('--agent-pki-secret'))).toBe(false);
      expect(objects.some((o) => String(o.metadata?.name).endsWith('-agent-pki'))).toBe(false);
      for (const o of objects.filter((x) => x.apiVersion === 'cert-manager.io/v1')) {
        const plural = o.kind === 'Certificate' ? 'certificates' : 'clusterissuers';
        const path = o.metadata?.namespace ? `/apis/cert-manager.io/v1/namespaces/${o.metadata.namespace}/${plural}` : `/apis/cert-manager.io/v1/${plural}`;
        const res = await kubeRequest(testKubeConfig(), 'POST', `${path}?dryRun=All&fieldValidation=Strict`, { body: o });
        expect([describeObject(o), res.status, res.status >= 300 ? res.body : '']).toEqual([describeObject(o), 201, '']);
      }
      // With an issuer of the user's, the chart bootstraps none.
      const own = await renderChart({ release: 'tko-cm', namespace: opNs.name, set: { agentTLS: { mode: 'certManager', certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } } } });
      expect(own.filter((o) => o.kind === 'ClusterIssuer')).toEqual([]);
      expect((own.find((o) => o.kind === 'Certificate') as ChartObject & { spec: { issuerRef: unknown } }).spec.issuerRef).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer' });
    } finally {
      const ext = testKubeConfig().makeApiClient(ApiextensionsV1Api);
      for (const c of crds) await ext.deleteCustomResourceDefinition({ name: c.metadata!.name! }).catch(() => {});
    }
  });

  it('runs the CRD upgrade as the hook ServiceAccount: a drifted CRD comes back, nothing else is allowed', async () => {
    const objects = await renderChart({ release: 'tko-crdup', namespace: opNs.name, set: { crds: { upgrade: true } } });
    const hook = objects.filter((o) => (o.metadata?.annotations as Record<string, string> | undefined)?.['helm.sh/hook'] === 'pre-upgrade');
    expect(hook.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Job', 'ServiceAccount']);
    created.push(...(await applyObjects(testKubeConfig(), hook.filter((o) => o.kind !== 'Job'))));
    const sa = hook.find((o) => o.kind === 'ServiceAccount')!.metadata!.name!;
    const identity = serviceAccountIdentity(opNs.name, sa);

    // Drift: someone (or an older chart) changed the installed CRD.
    const extensions = testKubeConfig().makeApiClient(ApiextensionsV1Api);
    const path = '/spec/versions/0/schema/openAPIV3Schema/description';
    const original = (await extensions.readCustomResourceDefinition({ name: CRD_NAME })).spec.versions[0]!.schema!.openAPIV3Schema!.description;
    await extensions.patchCustomResourceDefinition(
      { name: CRD_NAME, body: [{ op: 'replace', path, value: 'drifted' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );

    // The file the Job mounts is the ConfigMap's, i.e. what Helm read from crds/.
    const configMap = hook.find((o) => o.kind === 'ConfigMap') as ChartObject & { data: Record<string, string> };
    const dir = await mkdtemp(join(tmpdir(), 'tko-crd-'));
    const kubeconfig = await writeKubeconfigFile(identity);
    try {
      const file = join(dir, CRD_FILE_NAME);
      await writeFile(file, configMap.data[CRD_FILE_NAME]!);
      const { stdout } = await promisify(execFile)(process.execPath, [TKO, 'crd', 'apply', '--file', file, '--kubeconfig', kubeconfig.path]);
      expect(stdout).toMatch(new RegExp(`^applied CustomResourceDefinition ${CRD_NAME}: versions v1alpha1 \\(storage\\)`));
    } finally {
      await kubeconfig.remove();
      await rm(dir, { recursive: true, force: true });
    }
    const after = await extensions.readCustomResourceDefinition({ name: CRD_NAME });
    expect(after.spec.versions[0]!.schema!.openAPIV3Schema!.description).toBe(original);
    expect(after.metadata?.managedFields?.map((f) => f.manager)).toContain(CRD_FIELD_MANAGER);

    // Least privilege: this CRD only, get and patch only.
    const authz = testKubeConfig().makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, name: string, resource = 'customresourcedefinitions', group = 'apiextensions.k8s.io') =>
      (
        await authz.createSubjectAccessReview({
          body: { spec: { user: identity.user, groups: identity.groups, resourceAttributes: { group, resource, verb, name } } },
        })
      ).status?.allowed ?? false;
    expect(await can('patch', CRD_NAME)).toBe(true);
    expect(await can('get', CRD_NAME)).toBe(true);
    expect(await can('patch', 'widgets.example.com')).toBe(false);
    expect(await can('delete', CRD_NAME)).toBe(false);
    expect(await can('create', '')).toBe(false);
    expect(await can('get', 'anything', 'secrets', '')).toBe(false);
  });
});
