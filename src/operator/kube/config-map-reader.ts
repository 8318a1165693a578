// The ConfigMap a TicketKeySet names in spec.atsConfig.configMapRef, read live (one bounded GET
// per reconcile): the informer keeps ConfigMaps as metadata only, so their files never sit in
// the operator's memory between reconciles. Read only; errors are typed and carry no content.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { isNotFound, toKubeError } from '../runtime/api-errors.ts';
import { DEFAULT_KUBE_TIMEOUT_MS, withTimeout } from '../runtime/request-options.ts';
import type { ObjectRef } from '../runtime/object-key.ts';

export interface ReadConfigMap {
  /** Changes with every write: the analysis cache key. */
  readonly resourceVersion: string;
  readonly data: Readonly<Record<string, string>>;
  /** base64, as the API returns it. */
  readonly binaryData: Readonly<Record<string, string>>;
}

export interface ConfigMapPort {
  /** The ConfigMap, or undefined when it does not exist. */
  get(ref: ObjectRef): Promise<ReadConfigMap | undefined>;
}

export class ConfigMapReader implements ConfigMapPort {
  private readonly api: CoreV1Api;
  private readonly timeoutMs: number;

  constructor(options: { kubeConfig: KubeConfig; requestTimeoutMs?: number }) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  }

  async get(ref: ObjectRef): Promise<ReadConfigMap | undefined> {
    try {
      const cm = await this.api.readNamespacedConfigMap({ namespace: ref.namespace, name: ref.name }, withTimeout(this.timeoutMs));
      return { resourceVersion: cm.metadata?.resourceVersion ?? '', data: cm.data ?? {}, binaryData: cm.binaryData ?? {} };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toKubeError(err, `configmap ${ref.namespace}/${ref.name}`);
    }
  }
}
