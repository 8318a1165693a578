// Work-queue keys: `namespace/name` for namespaced objects, `name` for cluster-scoped ones
// (the same format as client-go's MetaNamespaceKeyFunc).
import type { KubernetesObject } from '@kubernetes/client-node';

/** namespace/name of a namespaced object (namespace '' when cluster-scoped). */
export interface ObjectRef {
  namespace: string;
  name: string;
}

export function objectKey(obj: KubernetesObject): string {
  const name = obj.metadata?.name ?? '';
  const namespace = obj.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

/** Splits a key into namespace ('' when cluster-scoped) and name. Throws on a malformed key. */
export function parseKey(key: string): ObjectRef {
  const parts = key.split('/');
  if (parts.length === 1 && parts[0]) return { namespace: '', name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  throw new Error(`malformed object key: ${JSON.stringify(key)}`);
}
