// What the controller needs from an informer: a synced cache plus change notifications.
// ResilientInformer implements it; tests use a small in-memory fake.
import type { KubernetesObject } from '@kubernetes/client-node';

export type ChangeEvent = 'add' | 'update' | 'delete';
export type ChangeHandler<T> = (obj: T) => void;

export interface EventSource<T extends KubernetesObject> {
  on(event: ChangeEvent, handler: ChangeHandler<T>): void;
  off(event: ChangeEvent, handler: ChangeHandler<T>): void;
  /** Every cached object (of one namespace when given). */
  list(namespace?: string): ReadonlyArray<T>;
  get(name: string, namespace?: string): T | undefined;
  /** True once the cache holds a complete initial list. */
  hasSynced(): boolean;
  /** Resolves when synced; rejects when signal aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void>;
}
