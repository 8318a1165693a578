// Ready-made mapping functions for Controller.watch: from a changed object to the keys of the
// primary objects (TicketKeySets) that must be reconciled.
import type { KubernetesObject, V1LabelSelector } from '@kubernetes/client-node';
import type { EventSource } from './event-source.ts';
import { matchesLabelSelector } from './label-selector.ts';
import { objectKey } from './object-key.ts';

/** The object itself (for the primary resource). */
export function mapToSelf(obj: KubernetesObject): string[] {
  return [objectKey(obj)];
}

/** The controlling owner of the given kind (a Secret → its TicketKeySet), in the object's namespace. */
export function mapToControllerOwner(owner: { apiVersion: string; kind: string }) {
  const group = groupOf(owner.apiVersion);
  return (obj: KubernetesObject): string[] => {
    const ref = obj.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === owner.kind && groupOf(r.apiVersion) === group);
    if (!ref || !obj.metadata?.namespace) return [];
    return [`${obj.metadata.namespace}/${ref.name}`];
  };
}

/**
 * The primaries in the object's namespace whose selector matches the object's labels
 * (a Pod → the TicketKeySets selecting it). selectorOf reads a primary's selector.
 */
export function mapBySelector<P extends KubernetesObject>(primaries: EventSource<P>, selectorOf: (primary: P) => V1LabelSelector | undefined) {
  return (obj: KubernetesObject): string[] => {
    const namespace = obj.metadata?.namespace;
    if (!namespace) return [];
    return primaries
      .list(namespace)
      .filter((p) => matchesLabelSelector(selectorOf(p), obj.metadata?.labels))
      .map((p) => objectKey(p));
  };
}

/**
 * The primaries in the object's namespace that reference it by name (a ConfigMap → the
 * TicketKeySets whose atsConfig.configMapRef names it). refsOf lists a primary's references.
 */
export function mapByReference<P extends KubernetesObject>(primaries: EventSource<P>, refsOf: (primary: P) => Iterable<string>) {
  return (obj: KubernetesObject): string[] => {
    const namespace = obj.metadata?.namespace;
    const name = obj.metadata?.name;
    if (!namespace || !name) return [];
    return primaries
      .list(namespace)
      .filter((p) => [...refsOf(p)].includes(name))
      .map((p) => objectKey(p));
  };
}

/** API group of an apiVersion ('' for the core group), so owner matching ignores the version. */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * What of a primary object its reconciler acts on: spec (through metadata.generation), labels,
 * annotations (rotation requests live there) and deletion. Its status, written by the operator
 * itself, is left out, so a status write is no reason to reconcile again (controller-runtime's
 * GenerationChanged | LabelChanged | AnnotationChanged predicates).
 */
export function specAndMetadataFingerprint(obj: KubernetesObject): string {
  const m = obj.metadata ?? {};
  return JSON.stringify([m.generation ?? null, m.labels ?? {}, m.annotations ?? {}, m.deletionTimestamp ?? null]);
}
