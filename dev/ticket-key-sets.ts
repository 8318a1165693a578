// TicketKeySets in one namespace of the test bed, through client-node's CustomObjectsApi: the
// calls the CRD tests make, with the group/version/plural spelled once.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../src/api/names.ts';
import type { TicketKeySet } from '../src/api/ticket-key-set.ts';

/** A TicketKeySet body as a test writes it: anything goes, so invalid objects can be sent too. */
export type TicketKeySetBody = { metadata: { name: string; [key: string]: unknown }; spec?: unknown; status?: unknown; [key: string]: unknown };

export function ticketKeySet(name: string, spec: unknown, extra: Record<string, unknown> = {}): TicketKeySetBody {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec, ...extra };
}

export function tksPath(namespace: string, name?: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}${name ? `/${name}` : ''}`;
}

export class TicketKeySets {
  readonly namespace: string;
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig, namespace: string) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.namespace = namespace;
  }

  private ref(name: string) {
    return { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL, name };
  }

  async create(body: TicketKeySetBody, fieldValidation?: 'Strict' | 'Warn' | 'Ignore'): Promise<TicketKeySet> {
    const { name: _name, ...ref } = this.ref('');
    return (await this.api.createNamespacedCustomObject({ ...ref, body, ...(fieldValidation ? { fieldValidation } : {}) })) as TicketKeySet;
  }

  async get(name: string): Promise<TicketKeySet> {
    return (await this.api.getNamespacedCustomObject(this.ref(name))) as TicketKeySet;
  }

  async list(): Promise<{ metadata: { resourceVersion?: string }; items: TicketKeySet[] }> {
    const { name: _name, ...ref } = this.ref('');
    return (await this.api.listNamespacedCustomObject(ref)) as { metadata: { resourceVersion?: string }; items: TicketKeySet[] };
  }

  /** JSON merge patch of the main resource (spec, metadata; status is ignored there). */
  async mergePatch(name: string, patch: unknown): Promise<TicketKeySet> {
    return (await this.api.patchNamespacedCustomObject(
      { ...this.ref(name), body: patch },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as TicketKeySet;
  }

  /** PUT to the status subresource (the operator's way of writing status). */
  async replaceStatus(body: unknown): Promise<TicketKeySet> {
    const name = (body as { metadata?: { name?: string } }).metadata?.name ?? '';
    return (await this.api.replaceNamespacedCustomObjectStatus({ ...this.ref(name), body })) as TicketKeySet;
  }

  /** PUT to the main resource. */
  async replace(body: unknown): Promise<TicketKeySet> {
    const name = (body as { metadata?: { name?: string } }).metadata?.name ?? '';
    return (await this.api.replaceNamespacedCustomObject({ ...this.ref(name), body })) as TicketKeySet;
  }

  async delete(name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject(this.ref(name));
  }
}
