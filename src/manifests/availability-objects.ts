// Optional objects around the operator pods: a PodDisruptionBudget (drains keep a leader
// candidate), a prometheus-operator ServiceMonitor, and the agents' NetworkPolicy.
import { JsonPatch } from 'cdk8s';
import type { Construct } from 'constructs';
import { FULLNAME, LABELS, SELECTOR_LABELS } from './chart-meta.ts';
import { valuesRef } from './chart-values.ts';
import { helmBlock, helmInline, helmValue } from './helm.ts';
import { METRICS_PORT_NAME } from './operator-deployment.ts';
import { TemplatedObject } from './templated-object.ts';

const v = valuesRef;
const name = helmInline(FULLNAME);
const namespace = helmInline('$.Release.Namespace');

/** Rendered when enabled and replicas > minAvailable (else it would block every drain). */
export const PDB_CONDITION = `and ${v('podDisruptionBudget.enabled')} (gt (int ${v('replicas')}) (int ${v('podDisruptionBudget.minAvailable')}))`;

export class OperatorDisruptionBudget extends TemplatedObject {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace, labels: helmBlock(LABELS) },
      spec: {
        minAvailable: helmValue(`int ${v('podDisruptionBudget.minAvailable')}`),
        selector: { matchLabels: helmBlock(SELECTOR_LABELS) },
      },
    });
  }
}

export class OperatorServiceMonitor extends TemplatedObject {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      // The user's labels (e.g. `release: prometheus`) next to the chart's; the chart's win a clash.
      metadata: { name, namespace, labels: helmBlock(`merge (${LABELS} | fromYaml) ${v('metrics.serviceMonitor.labels')} | toYaml`) },
      spec: {
        selector: { matchLabels: helmBlock(SELECTOR_LABELS) },
        endpoints: [{ port: METRICS_PORT_NAME, path: '/metrics', interval: helmValue(`${v('metrics.serviceMonitor.interval')} | quote`) }],
      },
    });
  }
}

/** Where synth copies deploy/grafana/ticket-key-operator.json inside the chart (read with .Files.Get). */
export const CHART_DASHBOARD_FILE = 'dashboards/ticket-key-operator.json';

/**
 * The Grafana dashboard as a ConfigMap for Grafana's dashboard sidecar. The JSON comes from the
 * chart's files, never through the template engine (its legends use {{pod}}), quoted by toJson.
 */
export class GrafanaDashboardConfigMap extends TemplatedObject {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: `${name}-dashboard`,
        namespace: helmInline(`${v('metrics.grafanaDashboard.namespace')} | default $.Release.Namespace`),
        // The sidecar's label (grafana_dashboard: "1") and the user's next to the chart's; the chart's win a clash.
        labels: helmBlock(`merge (${LABELS} | fromYaml) ${v('metrics.grafanaDashboard.labels')} | toYaml`),
      },
      data: { 'ticket-key-operator.json': helmValue(`$.Files.Get "${CHART_DASHBOARD_FILE}" | toJson`) },
    });
    // e.g. grafana_folder; a placeholder string goes in by JSON patch, like the labels.
    this.addJsonPatch(JsonPatch.add('/metadata/annotations', helmBlock(`toYaml ${v('metrics.grafanaDashboard.annotations')}`)));
  }
}

/** The namespaces that get the agents' NetworkPolicy (template variable set by the wrapper). */
export const NETWORK_POLICY_NAMESPACES = `${v('networkPolicy.namespaces')} | default ${v('watchNamespaces')}`;

/**
 * In one namespace of ATS pods: the agent port only from the operator pods; every other port,
 * TCP and UDP, from anywhere. A pod selected by an ingress policy loses all traffic no rule
 * allows, so the ranges around the agent port keep client traffic to ATS flowing.
 */
export class AgentNetworkPolicy extends TemplatedObject {
  constructor(scope: Construct, id: string, targetNamespace: string) {
    const port = v('networkPolicy.agentPort');
    super(scope, id, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${name}-agents`, namespace: targetNamespace, labels: helmBlock(LABELS) },
      spec: {
        podSelector: { matchLabels: helmBlock(`toYaml ${v('networkPolicy.agentPodLabels')}`) },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
                podSelector: { matchLabels: helmBlock(SELECTOR_LABELS) },
              },
            ],
            ports: [{ protocol: 'TCP', port: helmValue(`int ${port}`) }],
          },
          {
            ports: [
              { protocol: 'TCP', port: 1, endPort: helmValue(`sub (int ${port}) 1`) },
              { protocol: 'TCP', port: helmValue(`add (int ${port}) 1`), endPort: 65535 },
              { protocol: 'UDP', port: 1, endPort: 65535 },
            ],
          },
        ],
      },
    });
  }
}
