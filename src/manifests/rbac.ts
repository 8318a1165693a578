// The operator's permissions as data: the chart renders them, and an integration test applies
// the same rules to a real API server to prove the operator can do its job and nothing more.
import { GROUP, PLURAL } from '../api/index.ts';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * Cluster-wide (or, with watched namespaces, bound per namespace) rules of the operator.
 * Nothing here deletes: the owned Secret is garbage-collected through its owner reference.
 */
export const OPERATOR_RULES: PolicyRule[] = [
  // Watch the policy objects. Spec and metadata belong to users: the operator never writes them
  // (a handled rotate-now token is recorded in the owned Secret's annotations, not on the CR).
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch'] },
  // get on the subresource too: the status writer re-reads /status before a conflict retry.
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'update', 'patch'] },
  // Setting an owner reference with blockOwnerDeletion on the Secret needs update on the owner's
  // finalizers subresource when the OwnerReferencesPermissionEnforcement admission plugin is on.
  { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ['update'] },
  // The selected ATS pods: their IPs and readiness; pods/status for the readiness gate condition.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods/status'], verbs: ['patch'] },
  // The owned Secret <name>-ticket-keys: the source of truth for key material, generation and phase.
  // Written only by create and by update (optimistic concurrency on resourceVersion); no patch.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  // spec.atsConfig.configMapRef: read only.
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

/**
 * Leader election in the operator's own namespace. `create` cannot be limited by name (the
 * object does not exist yet); get/update are limited to the one Lease.
 */
export function leaderElectionRules(leaseName: string): PolicyRule[] {
  return [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseName], verbs: ['get', 'update'] },
  ];
}

/**
 * The operator-managed agent PKI's CA Secret in the operator's own namespace (watched or not).
 * Agents' certificate Secrets live in the watched namespaces, covered by OPERATOR_RULES.
 */
export function agentPkiRules(caSecretName: string): PolicyRule[] {
  return [
    { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    { apiGroups: [''], resources: ['secrets'], resourceNames: [caSecretName], verbs: ['get', 'update'] },
  ];
}

export function agentPkiRole(o: Pick<RbacOptions, 'name' | 'namespace' | 'labels'>, caSecretName: string): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: `${o.name}-agent-pki`, namespace: o.namespace, labels: o.labels },
    rules: agentPkiRules(caSecretName),
  };
}

export function agentPkiRoleBinding(o: Pick<RbacOptions, 'name' | 'namespace' | 'labels'>): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${o.name}-agent-pki`, namespace: o.namespace, labels: o.labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${o.name}-agent-pki` },
    subjects: subject(o),
  };
}

export interface RbacOptions {
  /** Name of the ClusterRole, Role, bindings and ServiceAccount. */
  name: string;
  /** Namespace the operator runs in (ServiceAccount, Lease). */
  namespace: string;
  leaseName: string;
  labels?: unknown;
}

type Manifest = { apiVersion: string; kind: string; metadata: Record<string, unknown>; [k: string]: unknown };

export function clusterRole(o: Pick<RbacOptions, 'name' | 'labels'>): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: o.name, labels: o.labels },
    rules: OPERATOR_RULES,
  };
}

function subject(o: Pick<RbacOptions, 'name' | 'namespace'>) {
  return [{ kind: 'ServiceAccount', name: o.name, namespace: o.namespace }];
}

export function clusterRoleBinding(o: Pick<RbacOptions, 'name' | 'namespace' | 'labels'>): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: o.name, labels: o.labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: o.name },
    subjects: subject(o),
  };
}

/** Grants the ClusterRole's rules in one watched namespace only. */
export function watchedNamespaceRoleBinding(
  o: Pick<RbacOptions, 'name' | 'namespace' | 'labels'>,
  watchedNamespace: string,
): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: o.name, namespace: watchedNamespace, labels: o.labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: o.name },
    subjects: subject(o),
  };
}

export function leaderElectionRole(o: Pick<RbacOptions, 'name' | 'namespace' | 'leaseName' | 'labels'>): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: `${o.name}-leader-election`, namespace: o.namespace, labels: o.labels },
    rules: leaderElectionRules(o.leaseName),
  };
}

export function leaderElectionRoleBinding(o: Pick<RbacOptions, 'name' | 'namespace' | 'labels'>): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${o.name}-leader-election`, namespace: o.namespace, labels: o.labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${o.name}-leader-election` },
    subjects: subject(o),
  };
}
