// The small namespaced objects of the chart: the operator's ServiceAccount and metrics Service.
import type { Construct } from 'constructs';
import { FULLNAME, LABELS, SELECTOR_LABELS } from './chart-meta.ts';
import { valuesRef } from './chart-values.ts';
import { helmBlock, helmInline, helmValue } from './helm.ts';
import { METRICS_PORT_NAME } from './operator-deployment.ts';
import { TemplatedObject } from './templated-object.ts';

const name = helmInline(FULLNAME);
const namespace = helmInline('$.Release.Namespace');

export class OperatorServiceAccount extends TemplatedObject {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace, labels: helmBlock(LABELS) },
      automountServiceAccountToken: true,
    });
  }
}

/** /metrics for Prometheus (health endpoints share the port but are only for the kubelet). */
export class MetricsService extends TemplatedObject {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${name}-metrics`, namespace, labels: helmBlock(LABELS) },
      spec: {
        type: 'ClusterIP',
        selector: helmBlock(SELECTOR_LABELS),
        ports: [{ name: METRICS_PORT_NAME, port: helmValue(valuesRef('metrics.port')), targetPort: METRICS_PORT_NAME, protocol: 'TCP' }],
      },
    });
  }
}
