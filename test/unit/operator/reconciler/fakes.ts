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
import { ConflictError } from '../../../../src/operator/runtime/api-errors.ts';
import type { SecretContent, SecretOwner, StoredSecret } from '../../../../src/operator/kube/secret-store.ts';
import type { ObjectRef } from '../../../../src/operator/runtime/object-key.ts';
import type { AgentAddress, AgentPort } from '../../../../src/operator/reconciler/agents.ts';

/**
 * The status port as the API server and the informer behave together: the merge patch (null
 * deletes) lands on ns/web in `source`, with observedGeneration; `seen` gets each patch as sent.
 */
export function statusInto(
  source: FakeSource<TicketKeySet>,
  seen: (status: Record<string, unknown>, observedGeneration: number) => void = () => undefined,
): ReconcilerOptions['status'] {
  return {
    patchStatus: (_ref, status, observedGeneration) => {
      seen(status as Record<string, unknown>, observedGeneration);
      const current = source.get('web', 'ns')!;
      const merged: Record<string, unknown> = { ...(current.status ?? {}), ...status, observedGeneration };
      for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
      source.upsert({ ...current, status: merged as TicketKeySet['status'] });
      return Promise.resolve(current as never);
    },
  };
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

  getRing(to: AgentAddress): Promise<GetRingResponse> {
    this.calls.push(`get ${to.ip}`);
    if (this.down.has(to.ip)) return Promise.reject(new AgentError(0, 'unreachable', `GET https://${to.ip}:${to.port}/v1/ring: ECONNREFUSED`));
    const h = this.held.get(to.ip);
    return Promise.resolve({
      ats: { generation: h?.generation ?? 0, keyCount: 1, ringFingerprint: h?.ringFingerprint ?? '0000000000000000', rejected: 0, startTime: new Date(0).toISOString() },
      accepted: null,
      inSync: true,
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
}

/** An in-memory Secret store with resourceVersion preconditions. */
export class FakeSecrets {
  stored: StoredSecret | undefined;
  writes = 0;
  /** The next update fails with 409 (another writer won). */
  conflictNext = false;

  get(_ref: ObjectRef): Promise<StoredSecret | undefined> {
    return Promise.resolve(this.stored ? copy(this.stored) : undefined);
  }

  create(ref: ObjectRef, owner: SecretOwner, content: SecretContent): Promise<StoredSecret> {
    this.writes++;
    this.stored = {
      namespace: ref.namespace,
      name: ref.name,
      uid: 'secret-uid',
      resourceVersion: '1',
      data: Object.fromEntries(Object.entries(content.data).map(([k, v]) => [k, Buffer.from(v)])),
      labels: {},
      annotations: clean(content.annotations),
      ownerReferences: [{ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: owner.name, uid: owner.uid }],
    };
    return Promise.resolve(copy(this.stored));
  }

  update(current: StoredSecret, content: SecretContent): Promise<StoredSecret> {
    if (this.conflictNext || !this.stored || current.resourceVersion !== this.stored.resourceVersion) {
      this.conflictNext = false;
      return Promise.reject(new ConflictError('secret changed'));
    }
    this.writes++;
    this.stored = {
      ...this.stored,
      resourceVersion: String(Number(this.stored.resourceVersion) + 1),
      data: Object.fromEntries(Object.entries(content.data).map(([k, v]) => [k, Buffer.from(v)])),
      annotations: { ...this.stored.annotations, ...clean(content.annotations) },
    };
    return Promise.resolve(copy(this.stored));
  }
}

function clean(a: Record<string, string | null> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(a ?? {}).filter((e): e is [string, string] => e[1] !== null));
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
