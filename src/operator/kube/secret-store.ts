// The operator-owned Secret of a TicketKeySet, as opaque bytes: get, create and update with
// resourceVersion optimistic concurrency. What the bytes mean (rings, states, phase) is decided
// in src/core; this class only moves them. Errors are typed (AlreadyExistsError,
// ConflictError, NotFoundError) and never include Secret contents.
import { CoreV1Api, type KubeConfig, type V1OwnerReference, type V1Secret } from '@kubernetes/client-node';
import { LABEL_TICKET_KEY_SET } from '../../api/names.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../labels.ts';
import { isNotFound, toKubeError } from '../runtime/api-errors.ts';
import { DEFAULT_KUBE_TIMEOUT_MS, withTimeout } from '../runtime/request-options.ts';
import { TICKETKEYSET } from './resources.ts';
import type { ObjectRef } from '../runtime/object-key.ts';

export interface StoredSecret {
  namespace: string;
  name: string;
  uid: string;
  /** The version this content was read at; update() is conditional on it. */
  resourceVersion: string;
  data: Record<string, Buffer>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerReferences: V1OwnerReference[];
}

export interface SecretContent {
  /** Replaces the whole data map. */
  data: Record<string, Uint8Array>;
  /** Merged over the existing annotations; null removes one. */
  annotations?: Record<string, string | null>;
  /** Merged over the existing labels; null removes one (the managed-by label always stays). */
  labels?: Record<string, string | null>;
}

/** The TicketKeySet that owns (and garbage-collects) the Secret. */
export interface SecretOwner {
  name: string;
  uid: string;
}

export class SecretStore {
  private readonly api: CoreV1Api;
  private readonly timeoutMs: number;

  /** requestTimeoutMs bounds every request (default DEFAULT_KUBE_TIMEOUT_MS). */
  constructor(options: { kubeConfig: KubeConfig; requestTimeoutMs?: number }) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  }

  /** The Secret, or undefined when it does not exist. */
  async get(ref: ObjectRef): Promise<StoredSecret | undefined> {
    try {
      return SecretStore.fromSecret(await this.api.readNamespacedSecret({ namespace: ref.namespace, name: ref.name }, withTimeout(this.timeoutMs)));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toKubeError(err, describe(ref));
    }
  }

  /**
   * Creates the Secret, controlled by the TicketKeySet (deleted with it) and labelled as ours.
   * Throws AlreadyExistsError when the name is taken.
   */
  async create(ref: ObjectRef, owner: SecretOwner, content: SecretContent): Promise<StoredSecret> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: ref.name,
        namespace: ref.namespace,
        labels: mergeMap({ [LABEL_TICKET_KEY_SET]: owner.name }, content.labels, { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }),
        annotations: mergeMap({}, content.annotations),
        ownerReferences: [
          { apiVersion: TICKETKEYSET.apiVersion, kind: TICKETKEYSET.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true },
        ],
      },
      data: encode(content.data),
    };
    try {
      return SecretStore.fromSecret(await this.api.createNamespacedSecret({ namespace: ref.namespace, body }, withTimeout(this.timeoutMs)));
    } catch (err) {
      throw toKubeError(err, describe(ref));
    }
  }

  /**
   * Replaces the content of `current`, conditional on its resourceVersion. Owner references
   * are kept. Throws ConflictError when the Secret changed since it was read, NotFoundError
   * when it is gone.
   */
  async update(current: StoredSecret, content: SecretContent): Promise<StoredSecret> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: current.name,
        namespace: current.namespace,
        uid: current.uid,
        resourceVersion: current.resourceVersion,
        labels: mergeMap(current.labels, content.labels, { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }),
        annotations: mergeMap(current.annotations, content.annotations),
        ownerReferences: current.ownerReferences,
      },
      data: encode(content.data),
    };
    try {
      return SecretStore.fromSecret(await this.api.replaceNamespacedSecret({ namespace: current.namespace, name: current.name, body }, withTimeout(this.timeoutMs)));
    } catch (err) {
      throw toKubeError(err, describe(current));
    }
  }

  /** Decodes a Secret as read from the API or an informer cache. */
  static fromSecret(secret: V1Secret): StoredSecret {
    const meta = secret.metadata ?? {};
    const data: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64');
    return {
      namespace: meta.namespace ?? '',
      name: meta.name ?? '',
      uid: meta.uid ?? '',
      resourceVersion: meta.resourceVersion ?? '',
      data,
      labels: { ...(meta.labels ?? {}) },
      annotations: { ...(meta.annotations ?? {}) },
      ownerReferences: [...(meta.ownerReferences ?? [])],
    };
  }
}

function encode(data: Record<string, Uint8Array>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  return out;
}

function mergeMap(base: Record<string, string>, ...overlays: Array<Record<string, string | null> | undefined>): Record<string, string> {
  const out = { ...base };
  for (const overlay of overlays) {
    for (const [k, v] of Object.entries(overlay ?? {})) {
      if (v === null) delete out[k];
      else out[k] = v;
    }
  }
  return out;
}

function describe(ref: ObjectRef): string {
  return `secret ${ref.namespace}/${ref.name}`;
}
