// The operator-owned Secret of a TicketKeySet: load (Secret → RotationState) and save
// (RotationState → Secret) with resourceVersion optimistic concurrency. What the Secret holds
// is decided by the codec in src/core/secret-format.ts; this class only moves what the codec
// produces (data as the API's base64 strings, handed over as they are). Errors are typed
// (AlreadyExistsError, ConflictError, NotFoundError, SecretFormatError) and never include
// Secret contents. The store makes no Buffer of key bytes: the codec makes and zeroes them.
import { CoreV1Api, type KubeConfig, type V1OwnerReference, type V1Secret } from '@kubernetes/client-node';
import { LABEL_TICKET_KEY_SET } from '../../api/names.ts';
import { decodeSecret, encodeSecret, secretAnnotations, SecretFormatError, type SecretPayload } from '../../core/secret-format.ts';
import type { RotationState } from '../../core/state.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../labels.ts';
import { isNotFound, toKubeError } from '../runtime/api-errors.ts';
import { DEFAULT_KUBE_TIMEOUT_MS, withTimeout } from '../runtime/request-options.ts';
import { TICKETKEYSET } from './resources.ts';
import type { ObjectRef } from '../runtime/object-key.ts';
import type { OwnWrites } from '../runtime/own-writes.ts';

/**
 * The Secret as last read or written: what a conditional write needs. No data (the key bytes
 * are in the state load returns, not here).
 */
export interface SecretMeta {
  namespace: string;
  name: string;
  uid: string;
  /** The version this was read or written at; save() over it is conditional on it. */
  resourceVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerReferences: V1OwnerReference[];
}

/**
 * What load() found: the Secret to write over next, and the state it holds, or why it holds
 * none this operator can use (the caller decides whether to write over it: `stored` makes that
 * write conditional on what was read).
 */
export type StoredState = { stored: SecretMeta; state: RotationState } | { stored: SecretMeta; error: SecretFormatError };

/** The TicketKeySet that owns (and garbage-collects) the Secret. */
export interface SecretOwner {
  name: string;
  uid: string;
}

export class SecretStore {
  private readonly api: CoreV1Api;
  private readonly timeoutMs: number;
  private readonly ownWrites: OwnWrites | undefined;

  /**
   * requestTimeoutMs bounds every request (default DEFAULT_KUBE_TIMEOUT_MS); ownWrites hears the
   * resourceVersion of every Secret saved (so its watch event is known as the operator's own).
   */
  constructor(options: { kubeConfig: KubeConfig; requestTimeoutMs?: number; ownWrites?: OwnWrites }) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
    this.ownWrites = options.ownWrites;
  }

  /**
   * The state in the Secret, with the Secret to save over next; undefined when the Secret does
   * not exist. Content that is not a state this operator reads comes back as `error`, a
   * SecretFormatError whose `code` says why and whose message holds no bytes.
   */
  async load(ref: ObjectRef): Promise<StoredState | undefined> {
    const secret = await this.read(ref);
    if (!secret) return undefined;
    const stored = SecretStore.metaOf(secret);
    try {
      return { stored, state: decodeSecret({ data: secret.data, annotations: secret.metadata?.annotations }) };
    } catch (err) {
      if (err instanceof SecretFormatError) return { stored, error: err };
      throw err;
    }
  }

  /**
   * Writes `state`. Without `current`: creates the Secret, controlled by the TicketKeySet
   * (deleted with it) and labelled as ours; AlreadyExistsError when the name is taken. With
   * `current` (from load or the last save): replaces its content, conditional on its
   * resourceVersion, keeping owners, labels and other writers' annotations; ConflictError when
   * the Secret changed since, NotFoundError when it is gone. A state the codec refuses throws
   * SecretFormatError before any request. Returns the Secret as written.
   */
  async save(ref: ObjectRef, owner: SecretOwner, state: RotationState, current?: SecretMeta): Promise<SecretMeta> {
    const payload = encodeSecret(state);
    const written = SecretStore.metaOf(current ? await this.replace(current, payload.data, secretAnnotations(current.annotations, payload)) : await this.createSecret(ref, owner, payload));
    this.ownWrites?.record(written.namespace, written.name, written.resourceVersion);
    return written;
  }

  /** The identity, version and metadata of a Secret as read from the API (its data is left out). */
  static metaOf(secret: V1Secret): SecretMeta {
    const meta = secret.metadata ?? {};
    return {
      namespace: meta.namespace ?? '',
      name: meta.name ?? '',
      uid: meta.uid ?? '',
      resourceVersion: meta.resourceVersion ?? '',
      labels: { ...(meta.labels ?? {}) },
      annotations: { ...(meta.annotations ?? {}) },
      ownerReferences: [...(meta.ownerReferences ?? [])],
    };
  }

  private async read(ref: ObjectRef): Promise<V1Secret | undefined> {
    try {
      return await this.api.readNamespacedSecret({ namespace: ref.namespace, name: ref.name }, withTimeout(this.timeoutMs));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toKubeError(err, describe(ref));
    }
  }

  private async createSecret(ref: ObjectRef, owner: SecretOwner, payload: SecretPayload): Promise<V1Secret> {
    const body = newSecret(ref, owner, payload.data, secretAnnotations({}, payload));
    try {
      return await this.api.createNamespacedSecret({ namespace: ref.namespace, body }, withTimeout(this.timeoutMs));
    } catch (err) {
      throw toKubeError(err, describe(ref));
    }
  }

  /** Replaces data and annotations of `current`, conditional on its resourceVersion; owners are kept. */
  private async replace(current: SecretMeta, data: Record<string, string>, annotations: Record<string, string>): Promise<V1Secret> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: current.name,
        namespace: current.namespace,
        uid: current.uid,
        resourceVersion: current.resourceVersion,
        labels: { ...current.labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
        annotations,
        ownerReferences: current.ownerReferences,
      },
      data,
    };
    try {
      return await this.api.replaceNamespacedSecret({ namespace: current.namespace, name: current.name, body }, withTimeout(this.timeoutMs));
    } catch (err) {
      throw toKubeError(err, describe(current));
    }
  }
}

/** A new Secret controlled by the TicketKeySet (deleted with it) and labelled as ours. */
function newSecret(ref: ObjectRef, owner: SecretOwner, data: Record<string, string>, annotations: Record<string, string>): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { [LABEL_TICKET_KEY_SET]: owner.name, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations,
      ownerReferences: [
        { apiVersion: TICKETKEYSET.apiVersion, kind: TICKETKEYSET.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    data,
  };
}

function describe(ref: ObjectRef): string {
  return `secret ${ref.namespace}/${ref.name}`;
}
