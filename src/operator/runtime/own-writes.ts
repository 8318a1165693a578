// The resourceVersions this process wrote, per object: the watch event of the operator's own
// write (a Secret it just saved) is no news to it, while anyone else's later write of the same
// object has another resourceVersion and still reaches the reconciler. Bounded: an object
// forgotten costs one reconcile too many, never one too few.
import type { KubernetesObject } from '@kubernetes/client-node';
import { objectKey } from './object-key.ts';

export const OWN_WRITES_MAX_OBJECTS = 10_000;

export class OwnWrites {
  /** objectKey → resourceVersion written last, least recently written first. */
  private readonly written = new Map<string, string>();
  private readonly maxObjects: number;

  constructor(maxObjects = OWN_WRITES_MAX_OBJECTS) {
    this.maxObjects = Math.max(1, maxObjects);
  }

  /** This process wrote the object, and the API server answered with this resourceVersion. */
  record(namespace: string, name: string, resourceVersion: string | undefined): void {
    const key = keyOf(namespace, name);
    this.written.delete(key);
    if (!resourceVersion) return;
    this.written.set(key, resourceVersion);
    while (this.written.size > this.maxObjects) this.written.delete(this.written.keys().next().value as string);
  }

  /** Whether the object, as a watch delivered it, is exactly what this process wrote last. */
  isOwn(obj: KubernetesObject): boolean {
    const rv = obj.metadata?.resourceVersion;
    return rv !== undefined && rv !== '' && this.written.get(objectKey(obj)) === rv;
  }

  forget(namespace: string, name: string): void {
    this.written.delete(keyOf(namespace, name));
  }

  get size(): number {
    return this.written.size;
  }
}

function keyOf(namespace: string, name: string): string {
  return objectKey({ metadata: { namespace, name } });
}
