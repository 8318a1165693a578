// The thin Kubernetes shells of the operator against the real API server: status subresource
// writes, Events with series, the owned Secret with optimistic concurrency, the pod readiness
// gate condition, and the action annotations.
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api, EventsV1Api, type EventsV1Event } from '@kubernetes/client-node';
import winston from 'winston';
import type { TicketKeySet } from '../../src/api/ticket-key-set.ts';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../src/operator/runtime/api-errors.ts';
import { EventRecorder } from '../../src/operator/kube/event-recorder.ts';
import { PodReadinessGate } from '../../src/operator/kube/pod-readiness.ts';
import { SecretStore } from '../../src/operator/kube/secret-store.ts';
import { TicketKeySetStatusWriter } from '../../src/operator/kube/status-writer.ts';
import { ANNOTATION_REVOKE, ANNOTATION_ROTATE_NOW } from '../../src/api/names.ts';
import { MANAGED_BY_LABEL } from '../../src/operator/labels.ts';
import { testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { FakePods } from '../../dev/fake-pods.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const ns = useNamespace('kube-shells');
const silent = winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
const selector = { matchLabels: { app: 'ats' } };
const FP = '0123456789abcdef';

async function newTicketKeySet(name: string): Promise<TicketKeySet> {
  return new TicketKeySets(testKubeConfig(), ns.name).create(ticketKeySet(name, { selector }));
}

describe('TicketKeySetStatusWriter', () => {
  it('merge-patches status with observedGeneration and leaves spec alone; null removes a field', async () => {
    const tks = await newTicketKeySet('status-patch');
    const writer = new TicketKeySetStatusWriter({ kubeConfig: testKubeConfig() });
    const ref = { namespace: ns.name, name: 'status-patch' };
    await writer.patchStatus(ref, { phase: 'Staging', keyGeneration: 2, stagedKey: { fingerprint: FP, createdAt: '2026-11-25T12:00:00Z' } }, tks.metadata.generation!);
    await writer.patchStatus(ref, { phase: 'Stable', stagedKey: null }, tks.metadata.generation!);
    const read = await new TicketKeySets(testKubeConfig(), ns.name).get('status-patch');
    expect(read.status).toMatchObject({ phase: 'Stable', keyGeneration: 2, observedGeneration: tks.metadata.generation });
    expect(read.status?.stagedKey).toBeUndefined();
    expect(read.spec).toEqual(tks.spec);
    expect(read.metadata.generation).toBe(tks.metadata.generation);
  });

  it('updateStatus retries after a conflicting write and builds on the fresh object', async () => {
    const tks = await newTicketKeySet('status-update');
    const sets = new TicketKeySets(testKubeConfig(), ns.name);
    const writer = new TicketKeySetStatusWriter({ kubeConfig: testKubeConfig() });
    const seen: Array<TicketKeySet['status']> = [];
    const written = await writer.updateStatus<TicketKeySet>({ namespace: ns.name, name: 'status-update' }, tks.metadata.generation!, async (current) => {
      seen.push(current.status);
      if (seen.length === 1) {
        // Someone else writes between our read and our write: our write gets 409.
        await sets.replaceStatus({ ...current, status: { keyGeneration: 7 } });
      }
      return { ...(current.status ?? {}), phase: 'Promoting' };
    });
    expect(seen).toEqual([undefined, { keyGeneration: 7 }]);
    expect(written.status).toEqual({ keyGeneration: 7, phase: 'Promoting', observedGeneration: tks.metadata.generation });
  });

  it('updateStatus gives up with ConflictError when every attempt conflicts', async () => {
    const tks = await newTicketKeySet('status-conflict');
    const sets = new TicketKeySets(testKubeConfig(), ns.name);
    const writer = new TicketKeySetStatusWriter({ kubeConfig: testKubeConfig(), maxConflictRetries: 1 });
    let n = 0;
    const result = writer.updateStatus<TicketKeySet>({ namespace: ns.name, name: 'status-conflict' }, tks.metadata.generation!, async (current) => {
      await sets.replaceStatus({ ...current, status: { keyGeneration: ++n } });
      return { phase: 'Stable' };
    });
    await expect(result).rejects.toBeInstanceOf(ConflictError);
    expect(n).toBe(2);
  });
});

describe('EventRecorder', () => {
  it('writes an events.k8s.io/v1 Event and folds a repeat into its series', async () => {
    const tks = await newTicketKeySet('events');
    const recorder = new EventRecorder({ kubeConfig: testKubeConfig(), reportingInstance: 'tko-test-0', logger: silent });
    const input = { type: 'Warning' as const, reason: 'PromotionTimedOut', action: 'Promote', note: 'pods ats-1 did not acknowledge ring 0123456789abcdef' };
    const first = await recorder.record(tks, input);
    const second = await recorder.record(tks, input);
    expect(first).toBeDefined();
    expect(second?.metadata?.name).toBe(first?.metadata?.name);
    const list = await testKubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns.name });
    const ours = list.items.filter((e: EventsV1Event) => e.regarding?.name === 'events');
    expect(ours.length).toBe(1);
    const e = ours[0]!;
    expect(e).toMatchObject({
      reason: 'PromotionTimedOut',
      action: 'Promote',
      type: 'Warning',
      note: input.note,
      reportingController: 'ticketkeys.dev/operator',
      reportingInstance: 'tko-test-0',
      regarding: { kind: 'TicketKeySet', apiVersion: 'ticketkeys.dev/v1alpha1', name: 'events', namespace: ns.name, uid: tks.metadata.uid },
    });
    expect(e.series?.count).toBe(2);
  });
});

describe('SecretStore', () => {
  it('creates the owned Secret, reads it back, and updates it with optimistic concurrency', async () => {
    const tks = await newTicketKeySet('secret');
    const store = new SecretStore({ kubeConfig: testKubeConfig() });
    const ref = { namespace: ns.name, name: 'secret-ticket-keys' };
    expect(await store.get(ref)).toBeUndefined();
    const key = Buffer.alloc(48, 7);
    const created = await store.create(ref, { name: 'secret', uid: tks.metadata.uid! }, { data: { 'ticket.key': key }, annotations: { 'ticketkeys.dev/phase': 'Staging' } });
    expect(created.ownerReferences).toEqual([
      { apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: 'secret', uid: tks.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    expect(created.labels[MANAGED_BY_LABEL]).toBe('ticket-key-operator');

    const read = (await store.get(ref))!;
    expect(read.data['ticket.key']).toEqual(key);
    const next = Buffer.alloc(96, 9);
    const updated = await store.update(read, { data: { 'ticket.key': next }, annotations: { 'ticketkeys.dev/phase': 'Promoting' } });
    expect(updated.resourceVersion).not.toBe(read.resourceVersion);
    expect((await store.get(ref))!.data['ticket.key']).toEqual(next);

    // A write based on the old read is refused: the caller must re-read and decide again.
    const stale = await store.update(read, { data: { 'ticket.key': key } }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConflictError);
    expect((stale as Error).message).not.toContain(key.toString('base64'));
    await expect(store.create(ref, { name: 'secret', uid: tks.metadata.uid! }, { data: {} })).rejects.toBeInstanceOf(AlreadyExistsError);

    await testKubeConfig().makeApiClient(CoreV1Api).deleteNamespacedSecret({ namespace: ns.name, name: ref.name });
    await expect(store.update(updated, { data: {} })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('PodReadinessGate', () => {
  it('sets the keys-installed condition, keeping the kubelet conditions, and the gate makes the pod Ready', async () => {
    const kc = testKubeConfig();
    const pods = new FakePods(kc, ns.name);
    const gate = new PodReadinessGate({ kubeConfig: kc });
    const pod = await pods.create({ name: 'gated', labels: { app: 'ats' }, readinessGates: [gate.conditionType] });
    expect(gate.declaredBy(pod)).toBe(true);
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');

    const patched = await gate.setCondition(pod, { status: true, reason: 'RingInstalled', message: 'agent holds generation 3' });
    const types = (patched?.status?.conditions ?? []).map((c) => c.type).sort();
    expect(types).toEqual(['ContainersReady', 'Initialized', 'PodScheduled', 'Ready', gate.conditionType].sort());
    expect(gate.conditionOf(patched!)).toMatchObject({ status: 'True', reason: 'RingInstalled', message: 'agent holds generation 3' });
    expect(gate.conditionOf(patched!)?.lastTransitionTime).toBeInstanceOf(Date);

    const synced = await pods.syncReadiness('gated');
    expect(synced.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(await gate.setCondition(synced, { status: true, reason: 'RingInstalled', message: 'agent holds generation 3' })).toBeUndefined();

    const behind = await gate.setCondition(synced, { status: false, reason: 'RingBehind', message: 'agent holds generation 2 of 3' });
    expect(gate.conditionOf(behind!)?.status).toBe('False');
    expect((await pods.syncReadiness('gated')).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  });

  it('does not mark a pod that was replaced under the same name', async () => {
    const kc = testKubeConfig();
    const pods = new FakePods(kc, ns.name);
    const gate = new PodReadinessGate({ kubeConfig: kc });
    const old = await pods.create({ name: 'replaced', readinessGates: [gate.conditionType] });
    const fresh = await pods.restart('replaced');
    expect(fresh.metadata?.uid).not.toBe(old.metadata?.uid);
    const err = await gate.setCondition(old, { status: true, reason: 'RingInstalled', message: 'for the old pod' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(gate.conditionOf(await pods.get('replaced'))).toBeUndefined();
  });
});

describe('TicketKeySetAnnotator', () => {
  it('sets rotate-now and revoke to fresh values, and reports a missing TicketKeySet', async () => {
    await newTicketKeySet('annotated');
    const annotator = new TicketKeySetAnnotator({ kubeConfig: testKubeConfig() });
    const ref = { namespace: ns.name, name: 'annotated' };
    const rotate = await annotator.requestRotation(ref);
    const revoke = await annotator.requestRevoke(ref);
    const read = await new TicketKeySets(testKubeConfig(), ns.name).get('annotated');
    expect(read.metadata.annotations?.[ANNOTATION_ROTATE_NOW]).toBe(rotate);
    expect(read.metadata.annotations?.[ANNOTATION_REVOKE]).toBe(revoke);
    await expect(annotator.requestRotation({ namespace: ns.name, name: 'missing' })).rejects.toBeInstanceOf(NotFoundError);
  });
});
