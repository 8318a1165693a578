// Writes TicketKeySet status through the `status` subresource (spec in the body is ignored
// there, and spec writers never clobber status). observedGeneration is always set, to the
// generation the reconcile acted on.
import { CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { isConflict, toKubeError } from '../runtime/api-errors.ts';
import { DEFAULT_KUBE_TIMEOUT_MS, mergePatch, withTimeout } from '../runtime/request-options.ts';
import { TICKETKEYSET } from './resources.ts';
import type { ObjectRef } from '../runtime/object-key.ts';

export type StatusObject = Record<string, unknown>;

export interface StatusWriterOptions {
  kubeConfig: KubeConfig;
  /** Attempts of updateStatus after 409 Conflicts (default 5, as client-go's DefaultRetry). */
  maxConflictRetries?: number;
  /** Bound of each request (default DEFAULT_KUBE_TIMEOUT_MS). */
  requestTimeoutMs?: number;
}

export class TicketKeySetStatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly maxRetries: number;
  private readonly timeoutMs: number;

  constructor(options: StatusWriterOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.maxRetries = options.maxConflictRetries ?? 5;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  }

  /**
   * JSON-merge-patches the status: the given fields replace the stored ones (arrays such as
   * conditions are replaced whole), `null` deletes a field, other fields stay.
   * Throws NotFoundError when the TicketKeySet is gone.
   */
  async patchStatus<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef, status: StatusObject, observedGeneration: number): Promise<T> {
    try {
      return (await this.api.patchNamespacedCustomObjectStatus(
        { ...coordinates(ref), body: { status: { ...status, observedGeneration } } },
        mergePatch(withTimeout(this.timeoutMs)),
      )) as T;
    } catch (err) {
      throw toKubeError(err, `ticketkeyset ${ref.namespace}/${ref.name} status`);
    }
  }

  /**
   * Read-modify-write: reads the TicketKeySet, lets mutate compute the whole new status from
   * it, and replaces the status conditionally on the read resourceVersion. On 409 it reads
   * again and retries. mutate returning undefined skips the write. Returns the object written
   * (or read, when skipped). Throws ConflictError when every attempt conflicted.
   */
  async updateStatus<T extends KubernetesObject & { status?: unknown }>(
    ref: ObjectRef,
    observedGeneration: number,
    mutate: (current: T) => StatusObject | undefined | Promise<StatusObject | undefined>,
  ): Promise<T> {
    const what = `ticketkeyset ${ref.namespace}/${ref.name} status`;
    for (let attempt = 1; ; attempt++) {
      let current: T;
      try {
        current = (await this.api.getNamespacedCustomObjectStatus(coordinates(ref), withTimeout(this.timeoutMs))) as T;
      } catch (err) {
        throw toKubeError(err, what);
      }
      const status = await mutate(current);
      if (status === undefined) return current;
      try {
        return (await this.api.replaceNamespacedCustomObjectStatus({
          ...coordinates(ref),
          body: { ...current, status: { ...status, observedGeneration } },
        }, withTimeout(this.timeoutMs))) as T;
      } catch (err) {
        if (!isConflict(err) || attempt > this.maxRetries) throw toKubeError(err, what);
      }
    }
  }
}

function coordinates(ref: ObjectRef) {
  return { group: TICKETKEYSET.group, version: TICKETKEYSET.version, plural: TICKETKEYSET.plural, namespace: ref.namespace, name: ref.name };
}
