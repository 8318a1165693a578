// Least privilege, checked on the data the chart renders (and that an integration test applies
// to a real API server): exactly the verbs the operator needs, nothing wildcard, nothing deleted.
import { describe, expect, it } from '@jest/globals';
import { OPERATOR_RULES, clusterRoleBinding, leaderElectionRules, watchedNamespaceRoleBinding } from '../../../src/manifests/rbac.ts';
import type { PolicyRule } from '../../../src/manifests/rbac.ts';

/** "group/resource" → sorted verbs, merged over all rules. */
function grants(rules: PolicyRule[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const r of rules) for (const g of r.apiGroups) for (const res of r.resources) {
    const key = `${g === '' ? 'core' : g}/${res}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}`;
    for (const v of r.verbs) (out[key] ??= new Set()).add(v);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
}

describe('operator RBAC', () => {
  it('grants exactly what the reconciler needs', () => {
    expect(grants(OPERATOR_RULES)).toEqual({
      'ticketkeys.dev/ticketkeysets': ['get', 'list', 'watch'],
      'ticketkeys.dev/ticketkeysets/status': ['get', 'patch', 'update'],
      'ticketkeys.dev/ticketkeysets/finalizers': ['update'],
      'core/pods': ['get', 'list', 'watch'],
      'core/pods/status': ['patch'],
      'core/secrets': ['create', 'get', 'list', 'update', 'watch'],
      'core/configmaps': ['get', 'list', 'watch'],
      'events.k8s.io/events': ['create', 'patch'],
    });
  });

  it('has no wildcard and never deletes', () => {
    const all = [...OPERATOR_RULES, ...leaderElectionRules('x')];
    for (const r of all) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
      expect(r.verbs).not.toEqual(expect.arrayContaining(['delete']));
      expect(r.verbs).not.toEqual(expect.arrayContaining(['deletecollection']));
    }
  });

  it('limits leader election to one named Lease (create cannot be limited by name)', () => {
    expect(grants(leaderElectionRules('tko'))).toEqual({
      'coordination.k8s.io/leases': ['create'],
      'coordination.k8s.io/leases[tko]': ['get', 'update'],
    });
  });

  // Which of the two the chart renders (no watchNamespaces: the ClusterRoleBinding; else one
  // RoleBinding per namespace) is checked on the templates in chart.test.ts.
  it('binds the ClusterRole cluster-wide to the operator\'s ServiceAccount', () => {
    const binding = clusterRoleBinding({ name: 'tko', namespace: 'ops' });
    expect(`${binding.kind}/${binding.metadata.namespace ?? ''}`).toBe('ClusterRoleBinding/');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tko' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'tko', namespace: 'ops' }]);
  });

  it('binds the ClusterRole in one watched namespace only', () => {
    const binding = watchedNamespaceRoleBinding({ name: 'tko', namespace: 'ops' }, 'a');
    expect(`${binding.kind}/${binding.metadata.namespace ?? ''}`).toBe('RoleBinding/a');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tko' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'tko', namespace: 'ops' }]);
  });
});
