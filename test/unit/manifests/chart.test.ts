// The chart's objects (before Helm renders them): a hardened two-replica operator Deployment,
// probes and metrics on one named port, the client-certificate Secret mounted read-only, and
// every Helm value the templates use defined in values.yaml.
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { chartTemplateObjects, synthesizeFiles } from '../../../src/manifests/app.ts';
import { Value } from '@sinclair/typebox/value';
import { DEFAULT_VALUES, VALUES_SCHEMA } from '../../../src/manifests/chart-values.ts';
import { CRD_UPGRADE_RULES } from '../../../src/manifests/crd-upgrade-hook.ts';
import { AGENT_TLS_DIR, OPERATOR_ARGS_TEMPLATE, OPERATOR_COMMAND, OPERATOR_FLAGS } from '../../../src/manifests/operator-deployment.ts';
import { agentPkiRules, OPERATOR_RULES } from '../../../src/manifests/rbac.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const objects = chartTemplateObjects().flatMap((t) => t.objects) as Obj[];
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const deployment = byKind('Deployment')[0] as Obj;
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const files = synthesizeFiles();
const template = (name: string) => files.get(`charts/ticket-key-operator/templates/${name}`) ?? '';

describe('chart templates', () => {
  it('has one template per object kind the operator needs', () => {
    expect(chartTemplateObjects().map((t) => `${t.file}: ${t.objects.map((o) => o.kind).join(',')}`)).toEqual([
      'serviceaccount.yaml: ServiceAccount',
      'clusterrole.yaml: ClusterRole',
      'clusterrolebinding.yaml: ClusterRoleBinding',
      'rolebindings-watched-namespaces.yaml: RoleBinding',
      'leader-election-rbac.yaml: Role,RoleBinding',
      'agent-pki-rbac.yaml: Role,RoleBinding',
      'deployment.yaml: Deployment',
      'service.yaml: Service',
      'poddisruptionbudget.yaml: PodDisruptionBudget',
      'servicemonitor.yaml: ServiceMonitor',
      'grafana-dashboard.yaml: ConfigMap',
      'networkpolicy-agents.yaml: NetworkPolicy',
      'cert-manager-bootstrap.yaml: ClusterIssuer,Certificate,ClusterIssuer',
      'cert-manager-certificates.yaml: Certificate',
      'cert-manager-agent-certificates.yaml: Certificate',
      'crd-upgrade-hook.yaml: ServiceAccount,ClusterRole,ClusterRoleBinding,ConfigMap,Job',
    ]);
  });

  it('renders replicas from values (2 by default) as an integer', () => {
    expect(DEFAULT_VALUES.replicas).toBe(2);
    expect(template('deployment.yaml')).toContain('\n  replicas: {{ $.Values.replicas }}\n');
  });

  it('runs non-root with a read-only root filesystem, no capabilities and no privilege escalation', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('disables core dumps before starting the operator (process memory holds keys)', () => {
    expect(container.command).toEqual(OPERATOR_COMMAND);
    expect(OPERATOR_COMMAND[2]).toMatch(/^ulimit -c 0 && exec node (--[a-z-]+(=\d+)? )+\/usr\/local\/bin\/tko operator "\$@"$/);
  });

  it('probes /healthz and /readyz on the metrics port, which the Service exposes', () => {
    expect(container.ports).toEqual([expect.objectContaining({ name: 'metrics', protocol: 'TCP' })]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    const service = byKind('Service')[0] as Obj;
    expect(service.spec.ports).toEqual([expect.objectContaining({ name: 'metrics', targetPort: 'metrics' })]);
    expect(template('service.yaml')).toContain('port: {{ $.Values.metrics.port }}');
  });

  it('runs its own agent PKI by default, or reads the agent client certificate Secret (optional volume) in mode secret', () => {
    expect(DEFAULT_VALUES.agentTLS.mode).toBe('operator');
    expect(container.args).toBe(`__HELM_BLOCK_${Buffer.from(`include "${OPERATOR_ARGS_TEMPLATE}" $`).toString('hex')}__`);
    const args = files.get('charts/ticket-key-operator/templates/_operator-args.tpl') ?? '';
    expect(args).toContain(`{{- if eq $.Values.agentTLS.mode "operator" }}\n- ${OPERATOR_FLAGS.agentPkiSecret}=`);
    expect(args).toContain(`{{- else }}\n- ${OPERATOR_FLAGS.agentClientCert}=${AGENT_TLS_DIR}/tls.crt\n- ${OPERATOR_FLAGS.agentClientKey}=${AGENT_TLS_DIR}/tls.key\n- ${OPERATOR_FLAGS.agentCa}=${AGENT_TLS_DIR}/ca.crt\n{{- end }}`);
    expect(container.volumeMounts).toContainEqual({ name: 'agent-tls', mountPath: AGENT_TLS_DIR, readOnly: true });
    expect(pod.volumes).toContainEqual(expect.objectContaining({ name: 'agent-tls', secret: expect.objectContaining({ defaultMode: 0o440, optional: true }) }));
    expect(template('deployment.yaml')).toContain('secretName: {{ $.Values.agentTLS.secretName | quote }}');
    // The PKI's CA Secret: get/update on that one name in the release namespace, create (unnameable).
    expect((byKind('Role').find((r) => String(r.metadata.name).endsWith('-agent-pki')) as Obj).rules).toEqual(agentPkiRules(expect.any(String) as unknown as string));
  });

  it('passes watched namespaces, leader election and the metrics address from values', () => {
    const argsTpl = files.get('charts/ticket-key-operator/templates/_operator-args.tpl') ?? '';
    expect(argsTpl).toContain('- --namespaces={{ join "," $.Values.watchNamespaces }}');
    expect(argsTpl).toContain('- --leader-elect={{ $.Values.leaderElection.enabled }}');
    expect(argsTpl).toContain('- --metrics-addr=:{{ $.Values.metrics.port }}');
  });

  it('grants the ClusterRole the rules of src/manifests/rbac.ts', () => {
    expect((byKind('ClusterRole')[0] as Obj).rules).toEqual(OPERATOR_RULES);
  });

  it('binds cluster-wide only when no namespaces are listed, else one RoleBinding per namespace', () => {
    expect(template('clusterrolebinding.yaml')).toMatch(/\{\{- if not \$\.Values\.watchNamespaces \}\}\napiVersion[\s\S]*\n\{\{- end \}\}\n$/);
    expect(template('rolebindings-watched-namespaces.yaml')).toContain('{{- range $ns := $.Values.watchNamespaces }}\n---\n');
    expect(template('rolebindings-watched-namespaces.yaml')).toContain('namespace: {{ $ns }}');
  });

  it('references only values that values.yaml defines', () => {
    const values = parse(files.get('charts/ticket-key-operator/values.yaml') ?? '') as Obj;
    expect(values).toEqual(DEFAULT_VALUES);
    const refs = [...files.values()].flatMap((text) => [...text.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)].map((m) => m[1] as string));
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of new Set(refs)) {
      let node: unknown = values;
      for (const part of ref.split('.')) node = (node as Obj | undefined)?.[part];
      expect([ref, node !== undefined]).toEqual([ref, true]);
    }
  });

  it('ships a values.schema.json that accepts the defaults and rejects unknown keys', () => {
    const schema = JSON.parse(files.get('charts/ticket-key-operator/values.schema.json') ?? '{}') as Obj;
    expect(schema.additionalProperties).toBe(false);
    expect(Value.Check(VALUES_SCHEMA, DEFAULT_VALUES)).toBe(true);
    expect(Value.Check(VALUES_SCHEMA, { ...DEFAULT_VALUES, replica: 3 })).toBe(false);
    expect(Value.Check(VALUES_SCHEMA, { ...DEFAULT_VALUES, replicas: 0 })).toBe(false);
  });

  it('renders the PodDisruptionBudget only when replicas exceed minAvailable, so one replica never blocks a drain', () => {
    expect(template('poddisruptionbudget.yaml')).toMatch(/^# Generated.*\n\{\{- if and \$\.Values\.podDisruptionBudget\.enabled \(gt \(int \$\.Values\.replicas\) \(int \$\.Values\.podDisruptionBudget\.minAvailable\)\) \}\}\n/);
    expect((byKind('PodDisruptionBudget')[0] as Obj).apiVersion).toBe('policy/v1');
  });

  it('lets only operator pods reach the agent port, and keeps every other port of the ATS pods open', () => {
    const policy = byKind('NetworkPolicy')[0] as Obj;
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const [agentRule, otherPorts] = policy.spec.ingress as Obj[];
    expect(agentRule!.from).toHaveLength(1);
    expect(agentRule!.ports).toHaveLength(1);
    expect(otherPorts!.from).toBeUndefined();
    expect(otherPorts!.ports.map((p: Obj) => p.protocol)).toEqual(['TCP', 'TCP', 'UDP']);
    expect(template('networkpolicy-agents.yaml')).toContain('{{- fail "networkPolicy.enabled needs networkPolicy.namespaces or watchNamespaces');
  });

  it('gives the CRD upgrade hook get and patch on this one CRD and nothing else, before the upgrade', () => {
    const hookObjects = chartTemplateObjects().find((t) => t.file === 'crd-upgrade-hook.yaml')!.objects as Obj[];
    expect(hookObjects.find((o) => o.kind === 'ClusterRole')!.rules).toEqual(CRD_UPGRADE_RULES);
    expect(CRD_UPGRADE_RULES).toEqual([expect.objectContaining({ resourceNames: ['ticketkeysets.ticketkeys.dev'], verbs: ['get', 'patch'] })]);
    for (const o of hookObjects) expect([o.kind, o.metadata.annotations['helm.sh/hook']]).toEqual([o.kind, 'pre-upgrade']);
    const job = hookObjects.find((o) => o.kind === 'Job')!;
    expect(job.spec.template.spec.containers[0].command).toEqual(['tko', 'crd', 'apply', '--file', '/var/run/ticketkeys.dev/crd/ticketkeysets.ticketkeys.dev.yaml']);
    expect(template('crd-upgrade-hook.yaml')).toContain('($.Files.Get "crds/ticketkeysets.ticketkeys.dev.yaml")');
  });

  it('leaves no placeholder and only balanced template actions in any file', () => {
    for (const [path, text] of files) {
      expect([path, text.includes('__HELM_')]).toEqual([path, false]);
      expect([path, (text.match(/\{\{/g) ?? []).length]).toEqual([path, (text.match(/\}\}/g) ?? []).length]);
    }
  });
});
