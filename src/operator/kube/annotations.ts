// Sets the action annotations of a TicketKeySet (`tko rotate` / `tko revoke`). A new value is
// what triggers the action, so each request writes a fresh timestamp.
import { CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { ANNOTATION_REVOKE, ANNOTATION_ROTATE_NOW } from '../../api/names.ts';
import { toKubeError } from '../runtime/api-errors.ts';
import { DEFAULT_KUBE_TIMEOUT_MS, mergePatch, withTimeout } from '../runtime/request-options.ts';
import { TICKETKEYSET } from './resources.ts';
import type { ObjectRef } from '../runtime/object-key.ts';

export class TicketKeySetAnnotator {
  private readonly api: CustomObjectsApi;
  private readonly clock: Clock;
  private readonly timeoutMs: number;

  /** requestTimeoutMs bounds each patch (default DEFAULT_KUBE_TIMEOUT_MS). */
  constructor(options: { kubeConfig: KubeConfig; clock?: Clock; requestTimeoutMs?: number }) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  }

  /** Asks for one rotation now; returns the value written. */
  requestRotation(ref: ObjectRef): Promise<string> {
    return this.stamp(ref, ANNOTATION_ROTATE_NOW);
  }

  /** Asks for an emergency revoke; returns the value written. */
  requestRevoke(ref: ObjectRef): Promise<string> {
    return this.stamp(ref, ANNOTATION_REVOKE);
  }

  /** Sets (or with null removes) one annotation with a merge patch. Throws NotFoundError. */
  async setAnnotation(ref: ObjectRef, key: string, value: string | null): Promise<KubernetesObject> {
    try {
      return (await this.api.patchNamespacedCustomObject(
        {
          group: TICKETKEYSET.group,
          version: TICKETKEYSET.version,
          plural: TICKETKEYSET.plural,
          namespace: ref.namespace,
          name: ref.name,
          body: { metadata: { annotations: { [key]: value } } },
        },
        mergePatch(withTimeout(this.timeoutMs)),
      )) as KubernetesObject;
    } catch (err) {
      throw toKubeError(err, `ticketkeyset ${ref.namespace}/${ref.name}`);
    }
  }

  private async stamp(ref: ObjectRef, key: string): Promise<string> {
    // RFC 3339 with milliseconds: distinct for requests made in distinct milliseconds.
    const value = new Date(this.clock.now()).toISOString();
    await this.setAnnotation(ref, key, value);
    return value;
  }
}
