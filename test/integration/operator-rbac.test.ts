// The chart's RBAC on a real API server (authorization-mode RBAC): rendered by the test bed's
// helm, applied as the chart would install it, then
//  - sufficient: the real `tko operator`, authenticated as the chart's ServiceAccount (a client
//    certificate with the identity the API server gives that ServiceAccount) with leader election
//    on the chart's Lease, completes a rotation with Events, the owned Secret and the pod
//    readiness gate, and never meets a 403;
//  - least privilege: SubjectAccessReviews for what the operator must not do (a table per mode).
// Both install modes: all namespaces (ClusterRoleBinding) and watchNamespaces (RoleBindings).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AuthorizationV1Api, CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { ANNOTATION_ROTATE_NOW, API_VERSION, GROUP, KIND, PLURAL, READINESS_GATE_CONDITION_TYPE } from '../../src/api/names.ts';
import { decodeSecret } from '../../src/core/secret-format.ts';
import { OPERATOR_FLAGS } from '../../src/manifests/operator-deployment.ts';
import { Fleet } from '../../dev/fleet.ts';
import {
  applyObjects,
  deleteObjects,
  describeObject,
  isRbacObject,
  renderChart,
  serviceAccountIdentity,
  writeKubeconfigFile,
  type ChartObject,
} from '../helpers/helm.ts';
import { eventually, kubeConfigAs, statusOf, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { spawnOperator, type SpawnedOperator } from '../../dev/operator-process.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { isReady, untilStatus } from '../helpers/operator-scenario.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const opNs = useNamespace('rbac-operator'); // the release namespace: ServiceAccount, Lease
const allAppNs = useNamespace('rbac-app-all'); // workloads, all-namespaces install
const watchedNs = useNamespace('rbac-app-watched'); // workloads, watchNamespaces install
const otherNs = useNamespace('rbac-other'); // never in watchNamespaces
const PORT = 19453;
const suffix = randomBytes(3).toString('hex'); // ClusterRoles are cluster-wide: unique per run

interface Install {
  release: string;
  objects: ChartObject[];
  applied: ChartObject[];
  serviceAccount: string;
  lease: { namespace: string; name: string };
  /** What the chart passes as --namespaces (empty: all). */
  namespaces: string[];
  identity: { user: string; groups: string[] };
}

function deploymentArg(objects: ChartObject[], flag: string): string {
  const deployment = objects.find((o) => o.kind === 'Deployment') as
    | { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }
    | undefined;
  const arg = deployment?.spec.template.spec.containers[0]?.args.find((a) => a.startsWith(`${flag}=`));
  if (arg === undefined) throw new Error(`the chart's Deployment passes no ${flag}`);
  return arg.slice(flag.length + 1);
}

async function install(release: string, set: Record<string, unknown>): Promise<Install> {
  const objects = await renderChart({ release, namespace: opNs.name, set });
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  if (!sa?.metadata?.name) throw new Error('the chart renders no ServiceAccount');
  const leaseNamespace = deploymentArg(objects, OPERATOR_FLAGS.leaderElectionNamespace).replace('$(POD_NAMESPACE)', opNs.name);
  const applied = await applyObjects(testKubeConfig(), objects.filter(isRbacObject));
  return {
    release,
    objects,
    applied,
    serviceAccount: sa.metadata.name,
    lease: { namespace: leaseNamespace, name: deploymentArg(objects, OPERATOR_FLAGS.leaderElectionLease) },
    namespaces: deploymentArg(objects, OPERATOR_FLAGS.namespaces).split(',').filter((s) => s !== ''),
    identity: serviceAccountIdentity(opNs.name, sa.metadata.name),
  };
}

// ---- least privilege: SubjectAccessReviews, asked by the admin about the operator's identity ----

interface Access {
  verb: string;
  resource: string; // group/resource[/subresource], core group as ''
  namespace?: string; // undefined: cluster-wide (or all namespaces)
  name?: string;
}

function parseResource(r: string): { group: string; resource: string; subresource?: string } {
  const [group = '', resource = '', subresource] = r.split('/');
  return { group, resource, ...(subresource ? { subresource } : {}) };
}

async function allowed(identity: { user: string; groups: string[] }, a: Access): Promise<boolean> {
  const api = testKubeConfig().makeApiClient(AuthorizationV1Api);
  const { group, resource, subresource } = parseResource(a.resource);
  const review = await api.createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: identity.user,
        groups: identity.groups,
        resourceAttributes: {
          verb: a.verb,
          group,
          resource,
          ...(subresource ? { subresource } : {}),
          ...(a.namespace ? { namespace: a.namespace } : {}),
          ...(a.name ? { name: a.name } : {}),
        },
      },
    },
  });
  return review.status?.allowed === true;
}

type Row = [verb: string, resource: string, where: string, expected: 'allow' | 'deny'];

/** `where`: a namespace name, '*' (cluster-wide / all namespaces), or 'ns:name' for one object. */
function access([verb, resource, where]: Row): Access {
  if (where === '*') return { verb, resource };
  const [namespace, name] = where.split(':');
  return { verb, resource, namespace: namespace!, ...(name ? { name } : {}) };
}

async function checkTable(identity: { user: string; groups: string[] }, rows: Row[]): Promise<void> {
  const actual: string[] = [];
  const expected: string[] = [];
  for (const row of rows) {
    const line = (result: string) => `${row[0].padEnd(16)} ${row[1].padEnd(36)} ${row[2].padEnd(52)} ${result}`;
    expected.push(line(row[3]));
    actual.push(line((await allowed(identity, access(row))) ? 'allow' : 'deny'));
  }
  // One readable table in the failure diff: verb, resource, where, decision.
  expect(actual.join('\n')).toBe(expected.join('\n'));
}

const TKS = `${GROUP}/${PLURAL}`;

/** What the operator needs and must get in a namespace it manages (so the denials are not vacuous). */
function needs(ns: string, lease: Install['lease']): Row[] {
  return [
    ['list', TKS, ns, 'allow'],
    ['watch', TKS, ns, 'allow'],
    ['get', `${TKS}/status`, ns, 'allow'],
    ['patch', `${TKS}/status`, ns, 'allow'],
    ['update', `${TKS}/status`, ns, 'allow'],
    ['update', `${TKS}/finalizers`, ns, 'allow'], // blockOwnerDeletion under OwnerReferencesPermissionEnforcement
    ['list', '/pods', ns, 'allow'],
    ['watch', '/pods', ns, 'allow'],
    ['patch', '/pods/status', ns, 'allow'],
    ['list', '/secrets', ns, 'allow'],
    ['watch', '/secrets', ns, 'allow'],
    ['get', '/secrets', ns, 'allow'],
    ['create', '/secrets', ns, 'allow'],
    ['update', '/secrets', ns, 'allow'],
    ['list', '/configmaps', ns, 'allow'],
    ['create', 'events.k8s.io/events', ns, 'allow'],
    ['patch', 'events.k8s.io/events', ns, 'allow'],
    ['create', 'coordination.k8s.io/leases', lease.namespace, 'allow'],
    ['get', 'coordination.k8s.io/leases', `${lease.namespace}:${lease.name}`, 'allow'],
    ['update', 'coordination.k8s.io/leases', `${lease.namespace}:${lease.name}`, 'allow'],
  ];
}

/** What the operator must never be able to do, wherever it runs. */
function forbidden(ns: string, lease: Install['lease']): Row[] {
  return [
    // pods: read and the status subresource only
    ['delete', '/pods', ns, 'deny'],
    ['deletecollection', '/pods', ns, 'deny'],
    ['create', '/pods', ns, 'deny'],
    ['patch', '/pods', ns, 'deny'],
    ['update', '/pods', ns, 'deny'],
    ['update', '/pods/status', ns, 'deny'],
    ['create', '/pods/exec', ns, 'deny'],
    ['create', '/pods/eviction', ns, 'deny'],
    // secrets: never deleted (garbage collection through the owner reference), never patched
    ['delete', '/secrets', ns, 'deny'],
    ['deletecollection', '/secrets', ns, 'deny'],
    ['patch', '/secrets', ns, 'deny'],
    // ticketkeysets: the spec and metadata belong to users; only status is written
    ['create', TKS, ns, 'deny'],
    ['update', TKS, ns, 'deny'],
    ['patch', TKS, ns, 'deny'],
    ['delete', TKS, ns, 'deny'],
    ['update', '/configmaps', ns, 'deny'],
    ['create', '/events', ns, 'deny'], // core/v1 Events: the operator writes events.k8s.io
    ['delete', 'events.k8s.io/events', ns, 'deny'],
    ['update', 'apps/deployments', ns, 'deny'],
    ['patch', 'apps/deployments', ns, 'deny'],
    ['create', '/serviceaccounts/token', ns, 'deny'],
    // no escalation
    ['create', 'rbac.authorization.k8s.io/clusterroles', '*', 'deny'],
    ['create', 'rbac.authorization.k8s.io/clusterrolebindings', '*', 'deny'],
    ['create', 'rbac.authorization.k8s.io/roles', ns, 'deny'],
    ['create', 'rbac.authorization.k8s.io/rolebindings', ns, 'deny'],
    ['bind', 'rbac.authorization.k8s.io/clusterroles', '*', 'deny'],
    ['escalate', 'rbac.authorization.k8s.io/clusterroles', '*', 'deny'],
    ['impersonate', '/users', '*', 'deny'],
    ['impersonate', '/groups', '*', 'deny'],
    ['impersonate', '/serviceaccounts', ns, 'deny'],
    ['create', 'certificates.k8s.io/certificatesigningrequests', '*', 'deny'],
    ['create', 'apiextensions.k8s.io/customresourcedefinitions', '*', 'deny'],
    ['get', '/nodes', '*', 'deny'],
    // leases: its own one only
    ['get', 'coordination.k8s.io/leases', `${lease.namespace}:kube-controller-manager`, 'deny'],
    ['update', 'coordination.k8s.io/leases', `${lease.namespace}:another-operator`, 'deny'],
    ['list', 'coordination.k8s.io/leases', lease.namespace, 'deny'],
    ['delete', 'coordination.k8s.io/leases', `${lease.namespace}:${lease.name}`, 'deny'],
    ['get', 'coordination.k8s.io/leases', `kube-system:${lease.name}`, 'deny'],
    ['create', 'coordination.k8s.io/leases', 'kube-system', 'deny'],
  ];
}

// ---- sufficiency: the real operator as the ServiceAccount ----

interface Run {
  operator: SpawnedOperator;
  fleet: Fleet;
  removeKubeconfig(): Promise<void>;
}

async function startOperator(inst: Install, appNs: string, ips: [string, string]): Promise<Run> {
  const admin = testKubeConfig();
  const fleet = await Fleet.create({ kc: admin, namespace: appNs, port: PORT });
  await fleet.add('ats-0', { ip: ips[0], labels: { app: 'rbac' }, readinessGates: [READINESS_GATE_CONDITION_TYPE] });
  await fleet.add('ats-1', { ip: ips[1], labels: { app: 'rbac' } });
  const kubeconfig = await writeKubeconfigFile(inst.identity);
  const operator = await spawnOperator({
    certs: fleet.files,
    kubeconfig: kubeconfig.path,
    namespaces: inst.namespaces,
    leaderElect: true,
    lease: inst.lease,
    identity: `${inst.release}-0`,
  });
  return { operator, fleet, removeKubeconfig: kubeconfig.remove };
}

async function stopRun(run: Run | undefined): Promise<void> {
  await run?.operator.stop();
  await run?.fleet.close();
  await run?.removeKubeconfig();
}

/** Creates a TicketKeySet and asserts a full rotation, done by the operator identity alone. */
async function assertRotation(run: Run, inst: Install, appNs: string): Promise<void> {
  const admin = testKubeConfig();
  const tks = new TicketKeySets(admin, appNs);
  await tks.create(
    ticketKeySet('web', {
      selector: { matchLabels: { app: 'rbac' } },
      rotation: { interval: '10s' },
      ticketLifetime: '10s',
      promotion: { timeout: '5s' },
      agent: { port: PORT },
    }),
  );
  const first = await untilStatus(tks, 'web', 'Ready with 2/2', (t) => isReady(t, '2/2') && !!t.status?.activeKey, 40_000);
  const rotated = await untilStatus(
    tks,
    'web',
    'a completed rotation',
    (t) => {
      const s = t.status;
      return !!s?.activeKey && s.activeKey.fingerprint !== first.status!.activeKey!.fingerprint && s.phase === 'Stable' && s.pods?.summary === '2/2';
    },
    45_000,
  );
  expect(rotated.status!.keyGeneration!).toBeGreaterThan(first.status!.keyGeneration!);
  expect(rotated.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  for (const name of ['ats-0', 'ats-1']) expect((await run.fleet.client(name).getRing()).ats.generation).toBe(rotated.status!.keyGeneration);

  // Events, written by this identity (events.k8s.io).
  const reasons = (await ticketKeySetEvents(admin, appNs, 'web')).map((e) => e.reason);
  expect(reasons).toEqual(expect.arrayContaining(['KeyStaged', 'KeyPromoted']));

  // The owned Secret, created with a controller owner reference to the TicketKeySet.
  const secret = await admin.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: appNs, name: 'web-ticket-keys' });
  expect(secret.metadata?.ownerReferences).toEqual([
    expect.objectContaining({ apiVersion: API_VERSION, kind: KIND, name: 'web', uid: rotated.metadata.uid, controller: true, blockOwnerDeletion: true }),
  ]);

  // The readiness gate condition on the pod that declares it (pods/status patch), none on the other.
  const core = admin.makeApiClient(CoreV1Api);
  const gated = await eventually('readiness gate condition True', async () => {
    const pod = await core.readNamespacedPod({ namespace: appNs, name: 'ats-0' });
    return pod.status?.conditions?.find((c) => c.type === READINESS_GATE_CONDITION_TYPE && c.status === 'True');
  });
  expect(gated.status).toBe('True');
  const ungated = await core.readNamespacedPod({ namespace: appNs, name: 'ats-1' });
  expect(ungated.status?.conditions?.find((c) => c.type === READINESS_GATE_CONDITION_TYPE)).toBeUndefined();

  // Leader election on the chart's Lease, held by this operator.
  const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease(inst.lease);
  expect(lease.spec?.holderIdentity).toBe(`${inst.release}-0`);

  // rotate-now (set by a user) is handled without writing the TicketKeySet: the handled token
  // goes to the owned Secret, which is why the ClusterRole has no patch/update on ticketkeysets.
  const token = new Date().toISOString();
  await tks.mergePatch('web', { metadata: { annotations: { [ANNOTATION_ROTATE_NOW]: token } } });
  await eventually(
    'rotate-now handled',
    async () => {
      const s = await core.readNamespacedSecret({ namespace: appNs, name: 'web-ticket-keys' });
      const state = decodeSecret({ data: s.data, annotations: s.metadata?.annotations });
      for (const k of state.keys) k.material.destroy();
      return state.handledRotateNowToken === token ? true : undefined;
    },
    30_000,
  );

  const logs = run.operator.logs().join('\n');
  expect(logs).not.toMatch(/forbidden/i);
  expect(logs).not.toMatch(/\b403\b/);
}

/** The operator's own client gets 403 where RBAC says deny (not only in a review). */
async function assertLiveDenials(kc: KubeConfig, ns: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const denied = async (what: string, call: () => Promise<unknown>) => {
    const status = await call().then(
      () => 200,
      (err: unknown) => statusOf(err),
    );
    return `${what}: ${status}`;
  };
  expect([
    await denied('delete pod', () => core.deleteNamespacedPod({ namespace: ns, name: 'ats-1' })),
    await denied('delete secret', () => core.deleteNamespacedSecret({ namespace: ns, name: 'web-ticket-keys' })),
    await denied('list leases', () => kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: opNs.name })),
  ]).toEqual(['delete pod: 403', 'delete secret: 403', 'list leases: 403']);
}

describe('chart RBAC, all namespaces (ClusterRoleBinding)', () => {
  let inst: Install;
  let run: Run | undefined;

  beforeAll(async () => {
    inst = await install(`tko-all-${suffix}`, {});
  }, 60_000);

  afterAll(async () => {
    await stopRun(run);
    if (inst) await deleteObjects(testKubeConfig(), inst.applied);
  });

  it('renders a ServiceAccount, the ClusterRole and a ClusterRoleBinding, and the leader-election Role', () => {
    expect(inst.applied.map(describeObject).sort()).toEqual(
      [
        `ServiceAccount/${opNs.name}/${inst.serviceAccount}`,
        `ClusterRole/${inst.serviceAccount}`,
        `ClusterRoleBinding/${inst.serviceAccount}`,
        `Role/${opNs.name}/${inst.serviceAccount}-leader-election`,
        `RoleBinding/${opNs.name}/${inst.serviceAccount}-leader-election`,
        `Role/${opNs.name}/${inst.serviceAccount}-agent-pki`,
        `RoleBinding/${opNs.name}/${inst.serviceAccount}-agent-pki`,
      ].sort(),
    );
    expect(inst.namespaces).toEqual([]);
    expect(inst.lease).toEqual({ namespace: opNs.name, name: inst.serviceAccount });
  });

  it('is sufficient: the operator as the ServiceAccount completes a rotation with no 403', async () => {
    run = await startOperator(inst, allAppNs.name, ['127.0.0.231', '127.0.0.232']);
    await assertRotation(run, inst, allAppNs.name);
  }, 120_000);

  it('grants what the operator needs (all namespaces)', async () => {
    await checkTable(inst.identity, [
      ...needs(allAppNs.name, inst.lease),
      ['list', TKS, '*', 'allow'],
      ['list', '/pods', '*', 'allow'],
      ['list', '/secrets', '*', 'allow'],
      ['list', '/configmaps', '*', 'allow'],
    ]);
  });

  it('is least privilege (all namespaces)', async () => {
    await checkTable(inst.identity, forbidden(allAppNs.name, inst.lease));
  });

  it('gets 403 from the API server for what it may not do', async () => {
    await assertLiveDenials(await kubeConfigAs(inst.identity), allAppNs.name);
  });
});

describe('chart RBAC, watchNamespaces (RoleBindings)', () => {
  let inst: Install;
  let run: Run | undefined;

  beforeAll(async () => {
    inst = await install(`tko-ns-${suffix}`, { watchNamespaces: [watchedNs.name] });
  }, 60_000);

  afterAll(async () => {
    await stopRun(run);
    if (inst) await deleteObjects(testKubeConfig(), inst.applied);
  });

  it('binds the ClusterRole only in the watched namespaces', () => {
    expect(inst.applied.map(describeObject).sort()).toEqual(
      [
        `ServiceAccount/${opNs.name}/${inst.serviceAccount}`,
        `ClusterRole/${inst.serviceAccount}`,
        `RoleBinding/${watchedNs.name}/${inst.serviceAccount}`,
        `Role/${opNs.name}/${inst.serviceAccount}-leader-election`,
        `RoleBinding/${opNs.name}/${inst.serviceAccount}-leader-election`,
        `Role/${opNs.name}/${inst.serviceAccount}-agent-pki`,
        `RoleBinding/${opNs.name}/${inst.serviceAccount}-agent-pki`,
      ].sort(),
    );
    expect(inst.namespaces).toEqual([watchedNs.name]);
  });

  it('lets the agent PKI keep its CA Secret in the unwatched release namespace, and no other Secret there', async () => {
    const ca = `${inst.serviceAccount}-agent-ca`;
    await checkTable(inst.identity, [
      ['create', '/secrets', opNs.name, 'allow'],
      ['get', '/secrets', `${opNs.name}:${ca}`, 'allow'],
      ['update', '/secrets', `${opNs.name}:${ca}`, 'allow'],
      ['get', '/secrets', `${opNs.name}:some-other-secret`, 'deny'],
      ['update', '/secrets', `${opNs.name}:some-other-secret`, 'deny'],
      ['list', '/secrets', opNs.name, 'deny'],
      ['delete', '/secrets', `${opNs.name}:${ca}`, 'deny'],
      ['patch', '/secrets', `${opNs.name}:${ca}`, 'deny'],
    ]);
  });

  it('is sufficient: the operator as the ServiceAccount completes a rotation with no 403', async () => {
    run = await startOperator(inst, watchedNs.name, ['127.0.0.233', '127.0.0.234']);
    await assertRotation(run, inst, watchedNs.name);
  }, 120_000);

  it('grants what the operator needs in the watched namespace', async () => {
    await checkTable(inst.identity, needs(watchedNs.name, inst.lease));
  });

  it('is least privilege in the watched namespace', async () => {
    await checkTable(inst.identity, forbidden(watchedNs.name, inst.lease));
  });

  it('grants nothing outside the watched namespaces', async () => {
    const other = otherNs.name;
    await checkTable(inst.identity, [
      ['get', '/secrets', `${other}:web-ticket-keys`, 'deny'],
      ['list', '/secrets', other, 'deny'],
      ['watch', '/secrets', other, 'deny'],
      ['delete', '/secrets', other, 'deny'],
      ['create', '/secrets', other, 'deny'],
      ['list', '/pods', other, 'deny'],
      ['patch', '/pods/status', other, 'deny'],
      ['list', TKS, other, 'deny'],
      ['patch', `${TKS}/status`, other, 'deny'],
      ['create', 'events.k8s.io/events', other, 'deny'],
      ['list', '/configmaps', other, 'deny'],
      // nor cluster-wide
      ['list', '/secrets', '*', 'deny'],
      ['list', '/pods', '*', 'deny'],
      ['list', TKS, '*', 'deny'],
      ['list', '/configmaps', '*', 'deny'],
    ]);
  });

  it('gets 403 from the API server outside the watched namespaces', async () => {
    const core = (await kubeConfigAs(inst.identity)).makeApiClient(CoreV1Api);
    const status = (p: Promise<unknown>) => p.then(() => 200, (err: unknown) => statusOf(err));
    expect({
      listSecretsOther: await status(core.listNamespacedSecret({ namespace: otherNs.name })),
      listSecretsAll: await status(core.listSecretForAllNamespaces()),
      listSecretsWatched: await status(core.listNamespacedSecret({ namespace: watchedNs.name })),
    }).toEqual({ listSecretsOther: 403, listSecretsAll: 403, listSecretsWatched: 200 });
  });
});
