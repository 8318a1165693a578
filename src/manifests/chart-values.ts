// The Helm chart's values: defaults, comments for values.yaml, the JSON schema Helm checks them
// against (values.schema.json), and the typed paths the templates reference (so a template cannot
// name a value that values.yaml lacks — see chart-values test).
import { Type, type TSchema } from '@sinclair/typebox';
import { Document, isMap, isScalar } from 'yaml';
import { DEFAULT_AGENT_PORT } from '../api/defaults.ts';

export const DEFAULT_VALUES = {
  image: { repository: 'ticket-key-operator', tag: '', pullPolicy: 'IfNotPresent' },
  imagePullSecrets: [] as { name: string }[],
  replicas: 2,
  watchNamespaces: [] as string[],
  podLabelSelector: 'ticketkeys.dev/agent=true',
  kubeTimeout: '15s',
  leaderElection: { enabled: true },
  logLevel: 'info',
  metrics: {
    port: 8080,
    serviceMonitor: { enabled: false, interval: '30s', labels: {} as Record<string, string> },
    grafanaDashboard: {
      enabled: false,
      namespace: '',
      labels: { grafana_dashboard: '1' } as Record<string, string>,
      annotations: {} as Record<string, string>,
    },
  },
  podDisruptionBudget: { enabled: true, minAvailable: 1 },
  networkPolicy: {
    enabled: false,
    namespaces: [] as string[],
    agentPort: DEFAULT_AGENT_PORT,
    agentPodLabels: { 'ticketkeys.dev/agent': 'true' } as Record<string, string>,
  },
  crds: { upgrade: false },
  agentTLS: {
    mode: 'operator' as 'operator' | 'secret' | 'certManager',
    pki: { caSecretName: '', caValidity: '8760h', certValidity: '720h', propagation: '5m' },
    certManager: {
      issuerRef: {} as Record<string, string>,
      clusterResourceNamespace: 'cert-manager',
      duration: '720h',
      renewBefore: '240h',
      agentWorkloads: [] as Array<{ namespace: string; serviceAccount: string }>,
    },
    secretName: 'ticket-key-operator-agent-client',
  },
  resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '384Mi' } },
  podAnnotations: {} as Record<string, string>,
  nodeSelector: {} as Record<string, string>,
  tolerations: [] as unknown[],
  affinity: {} as Record<string, unknown>,
};

export type ChartValues = typeof DEFAULT_VALUES;

/** Comments written above keys of values.yaml, by dotted path. */
const COMMENTS: Record<string, string> = {
  image: ' Operator image. The container runs `tko operator` (the image must have /bin/sh and tko on PATH).',
  'image.tag': ' Defaults to the chart appVersion.',
  imagePullSecrets: ' Secrets for pulling the image, e.g. [{name: regcred}].',
  replicas:
    ' Operator replicas. All keep warm caches; one leader (Lease) writes. 2 gives fast hand-over.',
  watchNamespaces:
    ' Namespaces whose TicketKeySets, pods and Secrets the operator manages. Empty: all namespaces\n' +
    ' (ClusterRoleBinding). Otherwise the ClusterRole is bound only in these namespaces (RoleBindings).',
  podLabelSelector:
    ' Label selector of the pods the operator lists and watches (--pod-label-selector). Only pods\n' +
    ' matching it can be targeted by a TicketKeySet: label the ATS pods that run the agent\n' +
    ' ticketkeys.dev/agent: "true". "" watches every pod of the watched namespaces.',
  kubeTimeout: ' Timeout of each Kubernetes API request of the operator (--kube-timeout).',
  leaderElection: ' Lease-based leader election in the release namespace. Keep enabled with more than one replica.',
  logLevel: ' error, warn, info or debug. Logs never contain key material.',
  metrics: ' Port of the HTTP server for /metrics (Prometheus), /healthz and /readyz; exposed by a Service.',
  'metrics.serviceMonitor':
    ' A prometheus-operator ServiceMonitor for the metrics Service (needs its CRD installed).\n' +
    ' labels: extra labels, e.g. the one your Prometheus selects ServiceMonitors by.',
  'metrics.grafanaDashboard':
    ' A ConfigMap holding the Grafana dashboard of the operator (deploy/grafana/ticket-key-operator.json),\n' +
    ' for the Grafana sidecar that loads dashboards from labelled ConfigMaps (kube-prometheus-stack).\n' +
    ' namespace: where the sidecar looks ("" = the release namespace). labels: the sidecar\'s label\n' +
    ' (grafana_dashboard: "1" by default). annotations: e.g. grafana_folder for the sidecar\'s folder option.',
  podDisruptionBudget:
    ' Keeps minAvailable operator pods through voluntary disruptions (node drains). Rendered only\n' +
    ' when replicas > minAvailable, so a single replica never blocks a drain.',
  networkPolicy:
    ' NetworkPolicies in each namespace of `namespaces` (default: watchNamespaces; one of the two must be\n' +
    ' set) that let only the operator pods reach the agents\' port on pods labelled agentPodLabels.\n' +
    ' Every other port of those pods (TCP and UDP) stays open to every peer: the policy never cuts\n' +
    ' client traffic to ATS. agentPort must equal spec.agent.port of the TicketKeySets there.',
  crds:
    ' Helm installs crds/ on first install and never upgrades it. upgrade: true adds a pre-upgrade\n' +
    ' hook Job (`tko crd apply`, server-side apply, permission for this one CRD only) that brings\n' +
    ' the CRD to this chart\'s version on every `helm upgrade`.',
  agentTLS:
    ' The agents\' mutual TLS (docs/agent.md "Trust model"). mode operator (default): the operator runs\n' +
    ' its own PKI: a CA in the Secret pki.caSecretName (default <fullname>-agent-ca) of this namespace,\n' +
    ' rotated with an overlap, and one Secret ticketkeys-agent-<serviceAccount> per workload of the ATS\n' +
    ' pods, which they mount for their agent. mode secret: you provide secretName with tls.crt (URI SAN\n' +
    ' spiffe://ticketkeys.dev/operator, clientAuth), tls.key and ca.crt (the CA bundle of the agents\'\n' +
    ' certificates), e.g. written by cert-manager; re-read without a restart when it changes. mode\n' +
    ' certManager: the chart asks cert-manager for that Secret and for ticketkeys-agent-<sa> of each\n' +
    ' certManager.agentWorkloads entry (docs/install.md).',
  'agentTLS.certManager':
    ' issuerRef: a ClusterIssuer of yours ({name, kind, group}); empty: the chart bootstraps a CA\n' +
    ' (self-signed ClusterIssuer, CA Certificate in clusterResourceNamespace, CA ClusterIssuer).\n' +
    ' agentWorkloads: [{namespace, serviceAccount}] of the ATS pods that need a certificate.',
  'agentTLS.pki':
    ' Lifetimes: each CA (a next CA joins the bundles at two thirds and signs propagation later) and\n' +
    ' the agents\' certificates (renewed at two thirds). propagation must exceed kubelet\'s Secret sync.',
  resources: ' Container resources.',
  podAnnotations: ' Extra annotations on the operator pods.',
  nodeSelector: ' Scheduling constraints of the operator pods.',
};

const quantity = Type.Union([Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$' }), Type.Number({ minimum: 0 })], {
  description: 'a Kubernetes quantity, e.g. 100m or 128Mi',
});
const duration = Type.String({ pattern: '^([0-9]+(ms|s|m|h))+$', description: 'a duration such as 15s, 2m or 1h30m' });
const dnsLabel = Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63, description: 'a namespace name (DNS label)' });
const stringMap = Type.Record(Type.String(), Type.String());
const secretName = Type.String({ pattern: '^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$', maxLength: 253, description: 'a Secret name' });
const strict = <T extends Record<string, TSchema>>(props: T, description?: string) =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });

/**
 * values.schema.json: Helm refuses install, upgrade and template with values that fail it and
 * names the value. Unknown keys are errors too (a typo like `replica:` is otherwise ignored).
 */
export const VALUES_SCHEMA = strict({
  image: strict({
    repository: Type.String({ minLength: 1 }),
    tag: Type.String(),
    pullPolicy: Type.Union([Type.Literal('Always'), Type.Literal('IfNotPresent'), Type.Literal('Never')]),
  }),
  imagePullSecrets: Type.Array(strict({ name: Type.String({ minLength: 1 }) })),
  replicas: Type.Integer({ minimum: 1, maximum: 10 }),
  watchNamespaces: Type.Array(dnsLabel, { uniqueItems: true }),
  podLabelSelector: Type.String(),
  kubeTimeout: duration,
  leaderElection: strict({ enabled: Type.Boolean() }),
  logLevel: Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug')]),
  metrics: strict({
    port: Type.Integer({ minimum: 1024, maximum: 65535, description: 'a non-privileged port (the operator runs as non-root)' }),
    serviceMonitor: strict({ enabled: Type.Boolean(), interval: duration, labels: stringMap }),
    grafanaDashboard: strict({
      enabled: Type.Boolean(),
      namespace: Type.Union([Type.Literal(''), dnsLabel]),
      labels: stringMap,
      annotations: stringMap,
    }),
  }),
  podDisruptionBudget: strict({ enabled: Type.Boolean(), minAvailable: Type.Integer({ minimum: 1 }) }),
  networkPolicy: strict({
    enabled: Type.Boolean(),
    namespaces: Type.Array(dnsLabel, { uniqueItems: true }),
    // 1..65535 minus one port on each side, so the ranges around it are never empty.
    agentPort: Type.Integer({ minimum: 2, maximum: 65534 }),
    agentPodLabels: Type.Record(Type.String(), Type.String(), { minProperties: 1 }),
  }),
  crds: strict({ upgrade: Type.Boolean() }),
  agentTLS: strict({
    mode: Type.Union([Type.Literal('operator'), Type.Literal('secret'), Type.Literal('certManager')]),
    certManager: strict({
      issuerRef: Type.Union([
        strict({}),
        strict({ name: Type.String({ minLength: 1 }), kind: Type.Optional(Type.Union([Type.Literal('ClusterIssuer'), Type.Literal('Issuer')])), group: Type.Optional(Type.String()) }),
      ]),
      clusterResourceNamespace: dnsLabel,
      duration,
      renewBefore: duration,
      agentWorkloads: Type.Array(strict({ namespace: dnsLabel, serviceAccount: Type.String({ pattern: '^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$', maxLength: 236 }) }), { uniqueItems: true }),
    }),
    pki: strict({
      caSecretName: Type.Union([Type.Literal(''), secretName]),
      caValidity: duration,
      certValidity: duration,
      propagation: duration,
    }),
    secretName,
  }),
  resources: strict({
    requests: Type.Optional(Type.Record(Type.String(), quantity)),
    limits: Type.Optional(Type.Record(Type.String(), quantity)),
  }),
  podAnnotations: stringMap,
  nodeSelector: stringMap,
  tolerations: Type.Array(Type.Object({})),
  affinity: Type.Object({}),
});

/** values.schema.json as written into the chart. */
export function renderValuesSchema(): string {
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', title: 'ticket-key-operator chart values', ...VALUES_SCHEMA }, null, 2)}\n`;
}

/** values.yaml with comments. */
export function renderValuesYaml(values: ChartValues = DEFAULT_VALUES): string {
  const doc = new Document(values);
  const walk = (node: unknown, prefix: string) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const path = prefix + String(pair.key.value);
      const comment = COMMENTS[path];
      if (comment !== undefined) pair.key.commentBefore = comment;
      walk(pair.value, `${path}.`);
    }
  };
  walk(doc.contents, '');
  return `# Values of the ticket-key-operator chart. Generated by \`npm run synth\` from src/manifests; do not edit.\n${doc.toString({ lineWidth: 0 })}`;
}

/** `.Values.<path>` for a path that exists in DEFAULT_VALUES (checked at synth time). */
export function valuesRef(path: string): string {
  let node: unknown = DEFAULT_VALUES;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) {
      throw new Error(`chart template references .Values.${path}, which values.yaml does not define`);
    }
    node = (node as Record<string, unknown>)[part];
  }
  return `$.Values.${path}`;
}
