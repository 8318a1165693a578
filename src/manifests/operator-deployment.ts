// The operator Deployment: two replicas behind a Lease, hardened pod (non-root, read-only root
// filesystem, no capabilities, no core dumps: process memory holds key material).
import { OPERATOR_NODE_FLAGS } from '../operator/runtime-flags.ts';
import type { Construct } from 'constructs';
import { FULLNAME, LABELS, SELECTOR_LABELS } from './chart-meta.ts';
import { valuesRef } from './chart-values.ts';
import { helmBlock, helmInline, helmValue } from './helm.ts';
import { TemplatedObject } from './templated-object.ts';

const v = valuesRef;

/** Where the agentTLS Secret is mounted. */
export const AGENT_TLS_DIR = '/var/run/secrets/ticketkeys.dev/agent-client';
export const METRICS_PORT_NAME = 'metrics';

/**
 * Flags of `tko operator` the chart passes. One place to keep the chart and the CLI in step:
 * metrics, /healthz and /readyz share one HTTP listener (--metrics-addr).
 */
export const OPERATOR_FLAGS = {
  namespaces: '--namespaces', // comma-separated; empty = all namespaces
  podLabelSelector: '--pod-label-selector', // the pods listed and watched
  kubeTimeout: '--kube-timeout', // bound of each Kubernetes API request
  metricsAddr: '--metrics-addr', // host:port of /metrics, /healthz, /readyz
  leaderElect: '--leader-elect', // true|false
  leaderElectionNamespace: '--leader-election-namespace',
  leaderElectionLease: '--leader-election-lease', // Lease name (the Role allows only this one)
  agentClientCert: '--agent-client-cert', // PEM client certificate for the agents' mTLS
  agentClientKey: '--agent-client-key',
  agentCa: '--agent-ca', // PEM CA that signs the agents' serving certificates
  agentPkiSecret: '--agent-pki-secret', // or: the operator's own agent PKI, CA in this Secret
  agentPkiCaValidity: '--agent-pki-ca-validity',
  agentPkiCertValidity: '--agent-pki-cert-validity',
  agentPkiPropagation: '--agent-pki-propagation',
  logLevel: '--log-level',
} as const;

/** The named template that renders the operator's args (a list, because the TLS flags depend on agentTLS.mode). */
export const OPERATOR_ARGS_TEMPLATE = 'ticket-key-operator.operatorArgs';
/** The CA Secret of the operator-managed agent PKI: agentTLS.pki.caSecretName or <fullname>-agent-ca. */
export const AGENT_CA_SECRET = `(${v('agentTLS.pki.caSecretName')} | default (printf "%s-agent-ca" (${FULLNAME})))`;

/**
 * `ulimit -c 0` before exec: Kubernetes has no field for RLIMIT_CORE, and a core dump of the
 * operator would write ticket keys to disk. `node` with the operator's runtime flags
 * (operator/runtime-flags.ts) runs `tko` (the image's /usr/local/bin/tko). `"$@"` carries the
 * container args through.
 */
export const OPERATOR_COMMAND = ['/bin/sh', '-c', `ulimit -c 0 && exec node ${OPERATOR_NODE_FLAGS.join(' ')} /usr/local/bin/tko operator "$@"`, 'tko'];

const name = helmInline(FULLNAME);

/**
 * `{{- define "ticket-key-operator.operatorArgs" -}}`: one `- --flag=value` line per flag. A
 * template rather than a literal list: with agentTLS.mode "operator" the operator runs its own
 * agent PKI, with "secret" it reads the three files of agentTLS.secretName.
 */
export function operatorArgsTemplate(): string {
  const f = OPERATOR_FLAGS;
  const arg = (flag: string, value: string) => `- ${flag}=${value}`;
  return [
    `{{- define "${OPERATOR_ARGS_TEMPLATE}" -}}`,
    arg(f.namespaces, `{{ join "," ${v('watchNamespaces')} }}`),
    arg(f.podLabelSelector, `{{ ${v('podLabelSelector')} }}`),
    arg(f.kubeTimeout, `{{ ${v('kubeTimeout')} }}`),
    arg(f.metricsAddr, `:{{ ${v('metrics.port')} }}`),
    arg(f.leaderElect, `{{ ${v('leaderElection.enabled')} }}`),
    arg(f.leaderElectionNamespace, '$(POD_NAMESPACE)'),
    arg(f.leaderElectionLease, `{{ ${FULLNAME} }}`),
    `{{- if eq ${v('agentTLS.mode')} "operator" }}`,
    arg(f.agentPkiSecret, `{{ ${AGENT_CA_SECRET} }}`),
    arg(f.agentPkiCaValidity, `{{ ${v('agentTLS.pki.caValidity')} }}`),
    arg(f.agentPkiCertValidity, `{{ ${v('agentTLS.pki.certValidity')} }}`),
    arg(f.agentPkiPropagation, `{{ ${v('agentTLS.pki.propagation')} }}`),
    '{{- else }}',
    arg(f.agentClientCert, `${AGENT_TLS_DIR}/tls.crt`),
    arg(f.agentClientKey, `${AGENT_TLS_DIR}/tls.key`),
    arg(f.agentCa, `${AGENT_TLS_DIR}/ca.crt`),
    '{{- end }}',
    arg(f.logLevel, `{{ ${v('logLevel')} }}`),
    '{{- end -}}',
    '',
  ].join('\n');
}

const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
  httpGet: { path, port: METRICS_PORT_NAME },
  periodSeconds,
  timeoutSeconds: 2,
  failureThreshold,
});

export class OperatorDeployment extends TemplatedObject {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: helmInline('$.Release.Namespace'), labels: helmBlock(LABELS) },
      spec: {
        replicas: helmValue(v('replicas')),
        selector: { matchLabels: helmBlock(SELECTOR_LABELS) },
        template: {
          metadata: { labels: helmBlock(SELECTOR_LABELS), annotations: helmBlock(`toYaml ${v('podAnnotations')}`) },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            imagePullSecrets: helmBlock(`toYaml ${v('imagePullSecrets')}`),
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              fsGroup: 65532, // group-owns the mounted Secret files, so mode 0440 is readable
              seccompProfile: { type: 'RuntimeDefault' },
            },
            terminationGracePeriodSeconds: 30, // time to release the Lease on SIGTERM
            containers: [
              {
                name: 'operator',
                image: helmValue(`printf "%s:%s" ${v('image.repository')} (${v('image.tag')} | default $.Chart.AppVersion) | quote`),
                imagePullPolicy: helmValue(`${v('image.pullPolicy')} | quote`),
                command: OPERATOR_COMMAND,
                args: helmBlock(`include "${OPERATOR_ARGS_TEMPLATE}" $`),
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                ports: [{ name: METRICS_PORT_NAME, containerPort: helmValue(v('metrics.port')), protocol: 'TCP' }],
                livenessProbe: probe('/healthz', 10, 3),
                readinessProbe: probe('/readyz', 5, 2),
                startupProbe: probe('/healthz', 2, 30),
                resources: helmBlock(`toYaml ${v('resources')}`),
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'agent-tls', mountPath: AGENT_TLS_DIR, readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              {
                name: 'agent-tls',
                // Only read in agentTLS.mode "secret"; optional so that the operator's own PKI needs no such Secret.
                secret: { secretName: helmValue(`${v('agentTLS.secretName')} | quote`), defaultMode: 0o440, optional: true },
              },
              // Node needs a writable /tmp on a read-only root; memory-backed, small.
              { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
            ],
            nodeSelector: helmBlock(`toYaml ${v('nodeSelector')}`),
            tolerations: helmBlock(`toYaml ${v('tolerations')}`),
            affinity: helmBlock(`toYaml ${v('affinity')}`),
          },
        },
      },
    });
  }
}
