// The opt-in CRD upgrade path (values crds.upgrade). Helm installs crds/ once and never upgrades
// it, so a chart upgrade would run a new operator against an old schema. With crds.upgrade the
// chart adds pre-upgrade hooks: the CRD file in a ConfigMap, and a Job running `tko crd apply`
// (server-side apply) under a ServiceAccount that may read and patch this one CRD and nothing else.
import type { Construct } from 'constructs';
import { CRD_NAME } from '../api/index.ts';
import { FULLNAME, LABELS } from './chart-meta.ts';
import { valuesRef } from './chart-values.ts';
import { helmBlock, helmInline, helmValue } from './helm.ts';
import type { PolicyRule } from './rbac.ts';
import { TemplatedObject } from './templated-object.ts';

const v = valuesRef;
// A Job's name ends up in a label value: at most 63 characters.
const name = helmInline(`printf "%s-crd-upgrade" (${FULLNAME}) | trunc 63 | trimSuffix "-"`);
const namespace = helmInline('$.Release.Namespace');
export const CRD_UPGRADE_DIR = '/var/run/ticketkeys.dev/crd';
export const CRD_FILE_NAME = `${CRD_NAME}.yaml`;

/** The only permission the hook's ServiceAccount has. `tko crd apply` needs get and patch. */
export const CRD_UPGRADE_RULES: PolicyRule[] = [
  { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], resourceNames: [CRD_NAME], verbs: ['get', 'patch'] },
];

/** Hooks run by weight; RBAC and the file first, then the Job. Deleted once the Job succeeds. */
const hook = (weight: number) => ({
  'helm.sh/hook': 'pre-upgrade',
  'helm.sh/hook-weight': String(weight),
  'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
});

export function crdUpgradeHook(scope: Construct): void {
  const meta = (weight: number, objectNamespace?: string) => ({
    name,
    ...(objectNamespace !== undefined ? { namespace: objectNamespace } : {}),
    labels: helmBlock(LABELS),
    annotations: hook(weight),
  });
  new TemplatedObject(scope, 'sa', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(-20, namespace), automountServiceAccountToken: true });
  new TemplatedObject(scope, 'role', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(-20), rules: CRD_UPGRADE_RULES });
  new TemplatedObject(scope, 'binding', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta(-20),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
  // The same bytes Helm installed from crds/ on first install.
  new TemplatedObject(scope, 'crd', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(-20, namespace),
    data: helmBlock(`dict "${CRD_FILE_NAME}" ($.Files.Get "crds/${CRD_FILE_NAME}") | toYaml`),
  });
  new TemplatedObject(scope, 'job', {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(-10, namespace),
    spec: {
      backoffLimit: 3,
      activeDeadlineSeconds: 300,
      template: {
        metadata: { labels: helmBlock(LABELS) },
        spec: {
          serviceAccountName: name,
          restartPolicy: 'Never',
          enableServiceLinks: false,
          imagePullSecrets: helmBlock(`toYaml ${v('imagePullSecrets')}`),
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'crd-apply',
              image: helmValue(`printf "%s:%s" ${v('image.repository')} (${v('image.tag')} | default $.Chart.AppVersion) | quote`),
              imagePullPolicy: helmValue(`${v('image.pullPolicy')} | quote`),
              command: ['tko', 'crd', 'apply', '--file', `${CRD_UPGRADE_DIR}/${CRD_FILE_NAME}`],
              resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'crd', mountPath: CRD_UPGRADE_DIR, readOnly: true }],
            },
          ],
          volumes: [{ name: 'crd', configMap: { name } }],
          nodeSelector: helmBlock(`toYaml ${v('nodeSelector')}`),
          tolerations: helmBlock(`toYaml ${v('tolerations')}`),
        },
      },
    },
  });
}
