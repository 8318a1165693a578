// What the operator did, read back from the API server: its Events and the state in its owned
// Secret (fingerprints, generations, phases; key bytes are decoded only to be zeroed at once).
import { CoreV1Api, EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { secretName } from '../src/api/names.ts';
import { isNotFound } from '../src/operator/runtime/api-errors.ts';
import { GENERATION_ANNOTATION, PHASE_ANNOTATION, RING_FINGERPRINT_ANNOTATION } from '../src/core/secret-format.ts';
import { SecretStore } from '../src/operator/kube/secret-store.ts';

export interface RecordedEvent {
  type: string;
  reason: string;
  note: string;
  count: number;
  related?: string;
  reportingInstance: string;
}

/** events.k8s.io Events about TicketKeySet `name`, oldest first (a series counts its repeats). */
export async function ticketKeySetEvents(kc: KubeConfig, namespace: string, name: string): Promise<RecordedEvent[]> {
  const list = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
  return list.items
    .filter((e) => e.regarding?.kind === 'TicketKeySet' && e.regarding?.name === name)
    .sort((a, b) => new Date(String(a.eventTime)).getTime() - new Date(String(b.eventTime)).getTime())
    .map((e) => ({
      type: e.type ?? '',
      reason: e.reason ?? '',
      note: e.note ?? '',
      count: e.series?.count ?? 1,
      reportingInstance: e.reportingInstance ?? '',
      ...(e.related?.name ? { related: e.related.name } : {}),
    }));
}

/** The owned Secret's readable annotations: generation, phase, ring fingerprint (no data). */
export async function storedRing(kc: KubeConfig, namespace: string, name: string): Promise<{ generation: number; phase: string; ringFingerprint: string } | undefined> {
  try {
    const s = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name: secretName(name) });
    const a = s.metadata?.annotations ?? {};
    return { generation: Number(a[GENERATION_ANNOTATION]), phase: a[PHASE_ANNOTATION] ?? '', ringFingerprint: a[RING_FINGERPRINT_ANNOTATION] ?? '' };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The keys in the owned Secret by fingerprint and state (loaded through the operator's store, then zeroed at once). */
export async function storedKeys(kc: KubeConfig, namespace: string, name: string): Promise<{ phase: string; generation: number; keys: Array<{ fingerprint: string; state: string }> }> {
  const ref = { namespace, name: secretName(name) };
  const loaded = await new SecretStore({ kubeConfig: kc }).load(ref);
  if (!loaded) throw new Error(`secret ${ref.namespace}/${ref.name} does not exist`);
  if ('error' in loaded) throw loaded.error;
  const { state } = loaded;
  const keys = state.keys.map((k) => ({ fingerprint: k.material.fingerprint, state: k.state }));
  for (const k of state.keys) k.material.destroy();
  return { phase: state.phase, generation: state.generation, keys };
}
