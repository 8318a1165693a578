// The operator's informers: TicketKeySets, Pods, its own Secrets and ConfigMaps, each scoped
// to all namespaces or to the list given with `--namespaces`.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1ConfigMap, type V1Pod, type V1Secret } from '@kubernetes/client-node';
// The generated serializer turns raw watch JSON into the same model objects typed lists return.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { MANAGED_BY_SELECTOR } from './labels.ts';
import { TICKETKEYSET } from './kube/resources.ts';
import { ResilientInformer, type ListTarget, type ResilientInformerOptions } from './informer.ts';

export interface InformerFactoryOptions {
  /** Namespaces to watch; empty or undefined watches all namespaces. */
  namespaces?: readonly string[];
  /** Extra options passed to every informer (clock, logger, backoff, watchdog…). Selectors are
   *  not among them: a factory sets them on the list and the watch alike. */
  informer?: Partial<Omit<ResilientInformerOptions<KubernetesObject>, 'name' | 'kubeConfig' | 'targets' | 'decode' | 'labelSelector' | 'fieldSelector'>>;
}

/** Parses `--namespaces a,b`: trimmed, deduplicated; empty, absent or `*` mean all namespaces. */
export function parseNamespaces(flag: string | undefined): string[] {
  const names = (flag ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.includes('*')) return [];
  return [...new Set(names)];
}

/** TicketKeySets (custom objects arrive as plain JSON in lists and watches alike). */
export function ticketKeySetInformer<T extends KubernetesObject = KubernetesObject>(kc: KubeConfig, options: InformerFactoryOptions = {}): ResilientInformer<T> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const { group, version, plural } = TICKETKEYSET;
  return build<T>(kc, 'ticketkeysets', options, undefined, {
    allPath: `/apis/${group}/${version}/${plural}`,
    nsPath: (ns) => `/apis/${group}/${version}/namespaces/${ns}/${plural}`,
    listAll: () => api.listClusterCustomObject({ group, version, plural }) as Promise<KubernetesListObject<T>>,
    listNs: (namespace) => api.listNamespacedCustomObject({ group, version, namespace, plural }) as Promise<KubernetesListObject<T>>,
  });
}

/** Pods; labelSelector narrows the watch (e.g. to the ATS pods) when the deployment knows it. */
export function podInformer(kc: KubeConfig, options: InformerFactoryOptions & { labelSelector?: string } = {}): ResilientInformer<V1Pod> {
  const api = kc.makeApiClient(CoreV1Api);
  const labelSelector = options.labelSelector;
  return build<V1Pod>(kc, 'pods', options, labelSelector, {
    allPath: '/api/v1/pods',
    nsPath: (ns) => `/api/v1/namespaces/${ns}/pods`,
    listAll: () => api.listPodForAllNamespaces({ labelSelector }),
    listNs: (namespace) => api.listNamespacedPod({ namespace, labelSelector }),
    decode: decoder<V1Pod>('V1Pod'),
  });
}

/** Only the Secrets the operator manages (labelled ticketkeys.dev/managed-by). */
export function managedSecretInformer(kc: KubeConfig, options: InformerFactoryOptions = {}): ResilientInformer<V1Secret> {
  const api = kc.makeApiClient(CoreV1Api);
  const labelSelector = MANAGED_BY_SELECTOR;
  return build<V1Secret>(kc, 'secrets', options, labelSelector, {
    allPath: '/api/v1/secrets',
    nsPath: (ns) => `/api/v1/namespaces/${ns}/secrets`,
    listAll: () => api.listSecretForAllNamespaces({ labelSelector }),
    listNs: (namespace) => api.listNamespacedSecret({ namespace, labelSelector }),
    decode: decoder<V1Secret>('V1Secret'),
  });
}

/** ConfigMaps (those TicketKeySets reference through atsConfig.configMapRef). */
export function configMapInformer(kc: KubeConfig, options: InformerFactoryOptions & { labelSelector?: string } = {}): ResilientInformer<V1ConfigMap> {
  const api = kc.makeApiClient(CoreV1Api);
  const labelSelector = options.labelSelector;
  return build<V1ConfigMap>(kc, 'configmaps', options, labelSelector, {
    allPath: '/api/v1/configmaps',
    nsPath: (ns) => `/api/v1/namespaces/${ns}/configmaps`,
    listAll: () => api.listConfigMapForAllNamespaces({ labelSelector }),
    listNs: (namespace) => api.listNamespacedConfigMap({ namespace, labelSelector }),
    decode: decoder<V1ConfigMap>('V1ConfigMap'),
  });
}

interface Collection<T extends KubernetesObject> {
  allPath: string;
  nsPath: (namespace: string) => string;
  listAll: () => Promise<KubernetesListObject<T>>;
  listNs: (namespace: string) => Promise<KubernetesListObject<T>>;
  decode?: (raw: unknown) => T;
}

function build<T extends KubernetesObject>(
  kc: KubeConfig,
  name: string,
  options: InformerFactoryOptions,
  labelSelector: string | undefined,
  c: Collection<T>,
): ResilientInformer<T> {
  const namespaces = options.namespaces ?? [];
  const targets: ListTarget<T>[] =
    namespaces.length === 0
      ? [{ path: c.allPath, list: c.listAll }]
      : namespaces.map((namespace) => ({ path: c.nsPath(namespace), list: () => c.listNs(namespace), namespace }));
  return new ResilientInformer<T>({
    ...(options.informer as Partial<ResilientInformerOptions<T>>),
    name,
    kubeConfig: kc,
    targets,
    ...(labelSelector !== undefined ? { labelSelector } : {}),
    ...(c.decode ? { decode: c.decode } : {}),
  });
}

function decoder<T>(type: string): (raw: unknown) => T {
  return (raw) => ObjectSerializer.deserialize(raw, type, '') as T;
}
