// Writes TicketKeySet status through the `status` subresource (spec in the body is ignored
// there, and spec writers never clobber status). observedGeneration is always set, to the
// generation the reconcile acted on.
import { CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { toKubeError } from '../runtime/api-errors.ts';
import { DEFAULT_KUBE_TIMEOUT_MS, mergePatch, withTimeout } from '../runtime/request-options.ts';
import { TICKETKEYSET } from './resources.ts';
import type { ObjectRef } from '../runtime/object-key.ts';

export type StatusObject = Record<string, unknown>;

export interface StatusWriterOptions {
  kubeConfig: KubeConfig;
  /** Bound of each request (default DEFAULT_KUBE_TIMEOUT_MS). */
  requestTimeoutMs?: number;
}

export class TicketKeySetStatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly timeoutMs: number;

  constructor(options: StatusWriterOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
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
}

function coordinates(ref: ObjectRef) {
  return { group: TICKETKEYSET.group, version: TICKETKEYSET.version, plural: TICKETKEYSET.plural, namespace: ref.namespace, name: ref.name };
}
