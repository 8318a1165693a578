// Fakes for the reconcile shell's unit tests: pods as the informer caches them, an in-memory
// Secret store with resourceVersion conflicts, agents with scripted answers, recorders.
import type { V1Pod } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import type { EventInput } from '../../../../src/operator/kube/event-recorder.ts';
import type { ReconcilerOptions } from '../../../../src/operator/reconciler/reconciler.ts';
import type { FakeSource } from '../runtime/fake-source.ts';
import type { GetRingResponse, PutRingRequest, PutRingResponse } from '../../../../src/agent/protocol.ts';
import { AgentError } from '../../../../src/agent/client.ts';
import { ringFingerprint } from '../../../../src/core/fingerprint.ts';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../../../src/operator/runtime/api-errors.ts';
import { LABEL_TICKET_KEY_SET } from '../../../../src/api/names.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../../../src/operator/labels.ts';
import { decodeSecret, encodeSecret, RETIRED_ANNOTATIONS, SecretFormatError } from '../../../../src/core/secret-format.ts';
import type { RotationState } from '../../../../src/core/state.ts';
import type { SecretMeta, SecretOwner, StoredState } from '../../../../src/operator/kube/secret-store.ts';
import type { ObjectRef } from '../../../../src/operator/runtime/object-key.ts';
import type { AgentAddress, AgentPort } from '../../../../src/operator/reconciler/agents.ts';
import { sessionSharingConfigHash, type SessionSharingConfig } from '../../../../src/contract/session-sharing.ts';

/**
 * The status port as the API server and the informer behave together: the patch lands on the
 * object in `source` as an RFC 7386 merge patch does (nested objects merged, null deletes at any
 * depth, arrays replaced), with observedGeneration; `seen` gets each patch as sent.
 */
export function statusInto(
  source: FakeSource<TicketKeySet>,
  seen: (status: Record<string, unknown>, observedGeneration: number) => void = () => undefined,
): ReconcilerOptions['status'] {
  return {
    patchStatus: (ref, status, observedGeneration) => {
      seen(status as Record<string, unknown>, observedGeneration);
      const current = source.get(ref.name, ref.namespace);
      if (!current) return Promise.reject(new NotFoundError(`ticketkeysets "${ref.name}" not found`));
      const merged = mergePatch((current.status ?? {}) as Record<string, unknown>, { ...(status as Record<string, unknown>), observedGeneration });
      source.upsert({ ...current, status: merged as TicketKeySet['status'] });
      return Promise.resolve(current as never);
    },
  };
}

/** RFC 7386 JSON merge patch, as the API server applies application/merge-patch+json. */
export function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined && isObject(v)) out[k] = mergePatch(isObject(out[k]) ? out[k] : {}, v);
    else if (v !== undefined) out[k] = v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** An event port that keeps every Event it is given. */
export function eventsInto(events: EventInput[]): ReconcilerOptions['events'] {
  return {
    record: (_obj, input) => {
      events.push(input);
      return Promise.resolve(undefined);
    },
  };
}

export function fakePod(
  name: string,
  o: { ip?: string; ready?: boolean; labels?: Record<string, string>; phase?: string; terminating?: boolean; gate?: boolean; gateTrue?: boolean; namespace?: string } = {},
): V1Pod {
  return {
    metadata: {
      name,
      namespace: o.namespace ?? 'ns',
      uid: `uid-${name}`,
      labels: o.labels ?? { app: 'ats' },
      ...(o.terminating ? { deletionTimestamp: new Date() } : {}),
    },
    spec: { containers: [], ...(o.gate ? { readinessGates: [{ conditionType: 'ticketkeys.dev/keys-installed' }] } : {}) },
    status: {
      phase: o.phase ?? 'Running',
      ...(o.ip !== '' ? { podIP: o.ip ?? `10.0.0.${name.length}` } : {}),
      conditions: [
        { type: 'Ready', status: o.ready === false ? 'False' : 'True' },
        ...(o.gateTrue ? [{ type: 'ticketkeys.dev/keys-installed', status: 'True' }] : []),
      ],
    },
  };
}

/** Agents that install whatever they are given (like the memory installer), or fail when told. */
export class FakeAgents implements AgentPort {
  readonly held = new Map<string, { generation: number; ringFingerprint: string }>();
  readonly down = new Set<string>();
  readonly calls: string[] = [];
  flushes: string[] = [];
  /**
   * What each agent (by IP) reports as GET /v1/ring `sessionSharing`: absent = an agent older
   * than sharing. A config put replaces enabled/configHash/peers, as the real agent does.
   */
  readonly sharing = new Map<string, unknown>();
  /** Every PUT /v1/session-sharing, in order. */
  readonly sharingPuts: Array<{ ip: string; config: SessionSharingConfig }> = [];
  /** Agents that refuse PUT /v1/session-sharing (500). */
  readonly sharingFails = new Set<string>();

  getRing(to: AgentAddress): Promise<GetRingResponse> {
    this.calls.push(`get ${to.ip}`);
    if (this.down.has(to.ip)) return Promise.reject(new AgentError(0, 'unreachable', `GET https://${to.ip}:${to.port}/v1/ring: ECONNREFUSED`));
    const h = this.held.get(to.ip);
    return Promise.resolve({
      ats: { generation: h?.generation ?? 0, keyCount: 1, ringFingerprint: h?.ringFingerprint ?? '0000000000000000', rejected: 0, startTime: new Date(0).toISOString() },
      accepted: null,
      inSync: true,
      ...(this.sharing.has(to.ip) ? { sessionSharing: this.sharing.get(to.ip) } : {}),
    });
  }

  putRing(to: AgentAddress, ring: PutRingRequest): Promise<PutRingResponse> {
    this.calls.push(`put ${to.ip} ${ring.generation}`);
    if (this.down.has(to.ip)) return Promise.reject(new AgentError(0, 'unreachable', `PUT https://${to.ip}:${to.port}/v1/ring: ECONNREFUSED`));
    const held = this.held.get(to.ip);
    // Like the real agent: no generation at or below what it holds (with another ring), revoke or not.
    if (held && (ring.generation < held.generation)) {
      return Promise.reject(new AgentError(409, 'stale_generation', `generation ${ring.generation} is older than the generation ${held.generation} ATS holds`));
    }
    const bytes = Buffer.concat(ring.keys.map((k) => Buffer.from(k.material, 'base64')));
    const fp = ringFingerprint(bytes);
    bytes.fill(0);
    this.held.set(to.ip, { generation: ring.generation, ringFingerprint: fp });
    return Promise.resolve({ generation: ring.generation, ringFingerprint: fp, activeFingerprint: ring.keys[0]!.fingerprint, installedAt: new Date(0).toISOString(), atsStartTime: new Date(0).toISOString() });
  }

  flushSessionCache(to: AgentAddress): Promise<void> {
    this.flushes.push(to.ip);
    return Promise.resolve();
  }

  putSessionSharing(to: AgentAddress, config: SessionSharingConfig): Promise<void> {
    this.calls.push(`share ${to.ip} ${config.enabled ? 'on' : 'off'}`);
    this.sharingPuts.push({ ip: to.ip, config: structuredClone(config) });
    if (this.down.has(to.ip)) return Promise.reject(new AgentError(0, 'unreachable', `PUT https://${to.ip}:${to.port}/v1/session-sharing: ECONNREFUSED`));
    if (this.sharingFails.has(to.ip)) return Promise.reject(new AgentError(500, 'internal', 'session sharing could not be configured'));
    const before = this.sharing.get(to.ip);
    this.sharing.set(to.ip, { ...(typeof before === 'object' && before !== null ? before : {}), enabled: config.enabled, configHash: sessionSharingConfigHash(config), peers: config.peers.length });
    return Promise.resolve();
  }
}

/**
 * An in-memory Secret store that answers as SecretStore does against the API server: create
 * of a taken name is AlreadyExists; update is conditional on resourceVersion (Conflict), 404
 * when the Secret is gone, replaces the data, and merges annotations over the ones read (null
 * deletes); the Secret is labelled as ours and controlled by its TicketKeySet.
 */
/** The Secret as the fake API server holds it (data as bytes, so a test can corrupt it). */
export interface StoredSecret extends SecretMeta {
  data: Record<string, Buffer>;
}

export interface SecretContent {
  data: Record<string, Uint8Array>;
  annotations?: Record<string, string | null>;
  labels?: Record<string, string | null>;
}

export class FakeSecrets {
  stored: StoredSecret | undefined;
  writes = 0;
  /** The next update fails with 409 (another writer won). */
  conflictNext = false;

  /** SecretStore.load: the stored bytes through the real codec. */
  load(_ref: ObjectRef): Promise<StoredState | undefined> {
    if (!this.stored) return Promise.resolve(undefined);
    const { data, ...stored } = copy(this.stored);
    try {
      return Promise.resolve({ stored, state: decodeStored({ ...stored, data }) });
    } catch (err) {
      if (err instanceof SecretFormatError) return Promise.resolve({ stored, error: err });
      return Promise.reject(err as Error);
    }
  }

  /** SecretStore.save: the real codec's content, retired annotations removed, written as create/update do. */
  async save(ref: ObjectRef, owner: SecretOwner, state: RotationState, current?: SecretMeta): Promise<SecretMeta> {
    const p = encodeSecret(state);
    const content: SecretContent = {
      data: Object.fromEntries(Object.entries(p.data).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      annotations: { ...Object.fromEntries(RETIRED_ANNOTATIONS.map((n) => [n, null])), ...p.annotations },
    };
    const { data: _data, ...written } = current ? await this.update({ ...current, data: {} }, content) : await this.create(ref, owner, content);
    return written;
  }

  create(ref: ObjectRef, owner: SecretOwner, content: SecretContent): Promise<StoredSecret> {
    if (this.stored) return Promise.reject(new AlreadyExistsError(`secrets "${ref.name}" already exists`));
    this.writes++;
    this.stored = {
      namespace: ref.namespace,
      name: ref.name,
      uid: 'secret-uid',
      resourceVersion: '1',
      data: Object.fromEntries(Object.entries(content.data).map(([k, v]) => [k, Buffer.from(v)])),
      labels: merged({ [LABEL_TICKET_KEY_SET]: owner.name }, content.labels, { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }),
      annotations: merged({}, content.annotations),
      ownerReferences: [{ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }],
    };
    return Promise.resolve(copy(this.stored));
  }

  update(current: StoredSecret, content: SecretContent): Promise<StoredSecret> {
    if (!this.stored) return Promise.reject(new NotFoundError(`secrets "${current.name}" not found`));
    if (this.conflictNext || current.resourceVersion !== this.stored.resourceVersion) {
      this.conflictNext = false;
      return Promise.reject(new ConflictError('secret changed'));
    }
    this.writes++;
    this.stored = {
      ...this.stored,
      resourceVersion: String(Number(this.stored.resourceVersion) + 1),
      data: Object.fromEntries(Object.entries(content.data).map(([k, v]) => [k, Buffer.from(v)])),
      labels: merged(current.labels, content.labels, { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }),
      annotations: merged(current.annotations, content.annotations),
    };
    return Promise.resolve(copy(this.stored));
  }
}

/** `base` with `changes` over it (null deletes) and `forced` over that. */
function merged(base: Record<string, string>, changes: Record<string, string | null> | undefined, forced: Record<string, string> = {}): Record<string, string> {
  const out = { ...base };
  for (const [k, v] of Object.entries(changes ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return { ...out, ...forced };
}

/** A deep copy that keeps Buffers Buffers (structuredClone turns them into Uint8Arrays). */
function copy(s: StoredSecret): StoredSecret {
  return {
    ...s,
    data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v)])),
    labels: { ...s.labels },
    annotations: { ...s.annotations },
    ownerReferences: s.ownerReferences.map((r) => ({ ...r })),
  };
}

/** The state a fake-stored Secret holds, decoded by the real codec. */
export function decodeStored(s: StoredSecret): RotationState {
  return decodeSecret({ data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, v.toString('base64')])), annotations: s.annotations });
}
