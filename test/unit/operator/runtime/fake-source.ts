// An in-memory EventSource standing in for an informer in controller tests.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ChangeEvent, ChangeHandler, EventSource } from '../../../../src/operator/runtime/event-source.ts';
import { objectKey } from '../../../../src/operator/runtime/object-key.ts';

export class FakeSource<T extends KubernetesObject> implements EventSource<T> {
  private readonly objects = new Map<string, T>();
  private readonly handlers: Record<ChangeEvent, Set<ChangeHandler<T>>> = { add: new Set(), update: new Set(), delete: new Set() };
  private synced: boolean;
  private readonly waiters: Array<() => void> = [];

  constructor(options: { synced?: boolean; objects?: T[] } = {}) {
    this.synced = options.synced ?? true;
    for (const o of options.objects ?? []) this.objects.set(objectKey(o), o);
  }

  on(event: ChangeEvent, handler: ChangeHandler<T>): void {
    this.handlers[event].add(handler);
  }
  off(event: ChangeEvent, handler: ChangeHandler<T>): void {
    this.handlers[event].delete(handler);
  }
  handlerCount(): number {
    return this.handlers.add.size + this.handlers.update.size + this.handlers.delete.size;
  }
  list(namespace?: string): ReadonlyArray<T> {
    return [...this.objects.values()].filter((o) => !namespace || o.metadata?.namespace === namespace);
  }
  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(namespace ? `${namespace}/${name}` : name);
  }
  hasSynced(): boolean {
    return this.synced;
  }
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      this.waiters.push(resolve);
    });
  }
  markSynced(): void {
    this.synced = true;
    for (const w of this.waiters.splice(0)) w();
  }
  upsert(obj: T): void {
    const key = objectKey(obj);
    const event = this.objects.has(key) ? 'update' : 'add';
    this.objects.set(key, obj);
    for (const h of this.handlers[event]) h(obj);
  }
  remove(obj: T): void {
    this.objects.delete(objectKey(obj));
    for (const h of this.handlers.delete) h(obj);
  }
}

export function obj(namespace: string, name: string, labels: Record<string, string> = {}, extra: Partial<KubernetesObject> = {}): KubernetesObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, labels, resourceVersion: '1' }, ...extra };
}
