// The operator's informers: TicketKeySets, Pods, its own Secrets and ConfigMaps, each scoped
// to all namespaces or to the list given with `--namespaces` (then nothing is ever listed or
// watched cluster-wide). Scope and memory:
// - Pods: only those carrying the `--pod-label-selector` label (default ticketkeys.dev/agent=true,
//   the label the pods running the agent carry), not every pod of the cluster, and of each only
//   the fields the operator reads (kube/slim-pod.ts).
// - TicketKeySets: whole, less metadata.managedFields. With a status entry per pod, the
//   bookkeeping of who wrote which field is larger than the spec and grows with the fleet.
// - Secrets and ConfigMaps: metadata only (PartialObjectMetadata). The reconciler reads its
//   Secret live and only for the reconcile that uses it; the informer only maps changes to their
//   TicketKeySet, so key bytes are never cached. Objects are stripped to metadata on arrival too,
//   in case a server ignored the Accept header.
// - Every LIST goes in pages of LIST_PAGE_SIZE, each reduced to what the cache keeps before the
//   next (runtime/paged-list.ts) and bounded by the request timeout; watches by client-node's
//   inactivity timer and the informer's watchdog (informer.ts).
import {
  CoreV1Api,
  CustomObjectsApi,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1ObjectMeta,
  type V1Pod,
} from '@kubernetes/client-node';
// The generated serializer turns raw watch JSON into the same model objects typed lists return.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { slimPod } from './kube/slim-pod.ts';
import { MANAGED_BY_SELECTOR } from './labels.ts';
import { ACCEPT_METADATA, DEFAULT_KUBE_TIMEOUT_MS, metadataOnlyList, withTimeout } from './runtime/request-options.ts';
import { TICKETKEYSET } from './kube/resources.ts';
import { LIST_PAGE_SIZE, listAllPages, type PageRequest } from './runtime/paged-list.ts';
import { ResilientInformer, type ListTarget, type ResilientInformerOptions, type WatchTransport } from './runtime/informer.ts';

export { DEFAULT_POD_LABEL_SELECTOR } from '../api/names.ts';

/** A Secret or ConfigMap as the metadata-only informers hold it: no data, ever. */
export interface ObjectMetadataOnly extends KubernetesObject {
  apiVersion: 'meta.k8s.io/v1';
  kind: 'PartialObjectMetadata';
  metadata: V1ObjectMeta;
}

export interface InformerFactoryOptions {
  /** Namespaces to watch; empty or undefined watches all namespaces. */
  namespaces?: readonly string[];
  /** Bound of every LIST request, each page its own (default DEFAULT_KUBE_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** Objects per LIST page (default LIST_PAGE_SIZE). */
  listPageSize?: number;
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
  const bounded = () => withTimeout(timeoutOf(options));
  const pageSize = pageSizeOf(options);
  return build<T>(kc, 'ticketkeysets', options, undefined, {
    allPath: `/apis/${group}/${version}/${plural}`,
    nsPath: (ns) => `/apis/${group}/${version}/namespaces/${ns}/${plural}`,
    listAll: () => listAllPages((page) => api.listClusterCustomObject({ group, version, plural, ...page }, bounded()) as Promise<KubernetesListObject<T>>, withoutManagedFields<T>, pageSize),
    listNs: (namespace) =>
      listAllPages((page) => api.listNamespacedCustomObject({ group, version, namespace, plural, ...page }, bounded()) as Promise<KubernetesListObject<T>>, withoutManagedFields<T>, pageSize),
    decode: (raw) => withoutManagedFields(raw as T),
  });
}

/**
 * Pods; labelSelector narrows the list and watch (the operator passes `--pod-label-selector`,
 * by default DEFAULT_POD_LABEL_SELECTOR; empty or undefined: every pod of the watched namespaces).
 */
export function podInformer(kc: KubeConfig, options: InformerFactoryOptions & { labelSelector?: string } = {}): ResilientInformer<V1Pod> {
  const api = kc.makeApiClient(CoreV1Api);
  const labelSelector = options.labelSelector ? options.labelSelector : undefined;
  const bounded = () => withTimeout(timeoutOf(options));
  const pageSize = pageSizeOf(options);
  return build<V1Pod>(kc, 'pods', options, labelSelector, {
    allPath: '/api/v1/pods',
    nsPath: (ns) => `/api/v1/namespaces/${ns}/pods`,
    listAll: () => listAllPages((page) => api.listPodForAllNamespaces({ labelSelector, ...page }, bounded()), slimPod, pageSize),
    listNs: (namespace) => listAllPages((page) => api.listNamespacedPod({ namespace, labelSelector, ...page }, bounded()), slimPod, pageSize),
    decode: (raw) => slimPod(decoder<V1Pod>('V1Pod')(raw)),
  });
}

/**
 * Only the Secrets the operator manages (labelled ticketkeys.dev/managed-by), metadata only:
 * enough to map a change to the owning TicketKeySet, never the key bytes.
 */
export function managedSecretInformer(kc: KubeConfig, options: InformerFactoryOptions = {}): ResilientInformer<ObjectMetadataOnly> {
  const api = kc.makeApiClient(CoreV1Api);
  const labelSelector = MANAGED_BY_SELECTOR;
  const metadataOnly = () => metadataOnlyList(withTimeout(timeoutOf(options)));
  const pageSize = pageSizeOf(options);
  return build<ObjectMetadataOnly>(kc, 'secrets', options, labelSelector, {
    allPath: '/api/v1/secrets',
    nsPath: (ns) => `/api/v1/namespaces/${ns}/secrets`,
    listAll: () => listMetadataPages((page) => api.listSecretForAllNamespaces({ labelSelector, ...page }, metadataOnly()), pageSize),
    listNs: (namespace) => listMetadataPages((page) => api.listNamespacedSecret({ namespace, labelSelector, ...page }, metadataOnly()), pageSize),
    decode: metadataDecoder,
    watch: metadataWatch(kc),
  });
}

/** ConfigMaps (those TicketKeySets reference through atsConfig.configMapRef), metadata only: nothing reads their data. */
export function configMapInformer(kc: KubeConfig, options: InformerFactoryOptions & { labelSelector?: string } = {}): ResilientInformer<ObjectMetadataOnly> {
  const api = kc.makeApiClient(CoreV1Api);
  const labelSelector = options.labelSelector ? options.labelSelector : undefined;
  const metadataOnly = () => metadataOnlyList(withTimeout(timeoutOf(options)));
  const pageSize = pageSizeOf(options);
  return build<ObjectMetadataOnly>(kc, 'configmaps', options, labelSelector, {
    allPath: '/api/v1/configmaps',
    nsPath: (ns) => `/api/v1/namespaces/${ns}/configmaps`,
    listAll: () => listMetadataPages((page) => api.listConfigMapForAllNamespaces({ labelSelector, ...page }, metadataOnly()), pageSize),
    listNs: (namespace) => listMetadataPages((page) => api.listNamespacedConfigMap({ namespace, labelSelector, ...page }, metadataOnly()), pageSize),
    decode: metadataDecoder,
    watch: metadataWatch(kc),
  });
}

interface Collection<T extends KubernetesObject> {
  allPath: string;
  nsPath: (namespace: string) => string;
  listAll: () => Promise<KubernetesListObject<T>>;
  listNs: (namespace: string) => Promise<KubernetesListObject<T>>;
  decode?: (raw: unknown) => T;
  /** Watch transport (e.g. one asking for metadata only); a test's transport still wins. */
  watch?: WatchTransport;
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
    ...(c.watch && !options.informer?.watch ? { watch: c.watch } : {}),
  });
}

function timeoutOf(options: InformerFactoryOptions): number {
  return options.requestTimeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
}

function pageSizeOf(options: InformerFactoryOptions): number {
  return options.listPageSize ?? LIST_PAGE_SIZE;
}

/** The object less metadata.managedFields, which nothing in the operator reads. */
function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** Keeps only what a metadata-only informer may hold, whatever the server sent. */
function metadataOnly(metadata: V1ObjectMeta | undefined): ObjectMetadataOnly {
  // managedFields: bookkeeping of server-side apply, the larger part of an object's metadata.
  const { managedFields: _dropped, ...kept } = metadata ?? {};
  return { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: kept };
}

/** Watch events carry raw JSON: metadata as the typed list returns it (Date fields), nothing else. */
function metadataDecoder(raw: unknown): ObjectMetadataOnly {
  const wire = (raw as { metadata?: unknown } | undefined)?.metadata ?? {};
  return metadataOnly(ObjectSerializer.deserialize(wire, 'V1ObjectMeta', '') as V1ObjectMeta);
}

/** A metadata-only LIST, page by page, each item stripped to metadataOnly whatever the server sent. */
async function listMetadataPages<T extends KubernetesObject>(
  fetchPage: (page: PageRequest) => Promise<KubernetesListObject<T>>,
  pageSize: number,
): Promise<KubernetesListObject<ObjectMetadataOnly>> {
  const list = await listAllPages(fetchPage, (item) => metadataOnly(item.metadata), pageSize);
  return { ...list, apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadataList' };
}

/**
 * A Watch that asks for PartialObjectMetadata events: client-node's Watch sends the headers
 * the KubeConfig applies, so it gets a view of the KubeConfig that adds the Accept header.
 */
function metadataWatch(kc: KubeConfig): WatchTransport {
  const view = Object.create(kc) as KubeConfig;
  view.applySecurityAuthentication = async (ctx) => {
    await kc.applySecurityAuthentication(ctx);
    ctx.setHeaderParam('Accept', ACCEPT_METADATA);
  };
  return new Watch(view);
}

function decoder<T>(type: string): (raw: unknown) => T {
  return (raw) => ObjectSerializer.deserialize(raw, type, '') as T;
}
