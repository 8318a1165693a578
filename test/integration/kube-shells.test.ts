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
import { ANNOTATION_REVOKE, ANNOTATION_ROTATE_NOW, secretName } from '../../src/api/names.ts';
import { ringFingerprint } from '../../src/core/fingerprint.ts';
import { encodeRing } from '../../src/core/ring.ts';
import { encodeSecret, GENERATION_ANNOTATION, PHASE_ANNOTATION, RING_FINGERPRINT_ANNOTATION, RING_JSON_KEY, TICKET_KEY_FILE } from '../../src/core/secret-format.ts';
import { initialState, ringMaterial, type RotationState } from '../../src/core/state.ts';
import { step } from '../../src/core/step.ts';
import { keyTraces } from '../fixtures/keys.ts';
import { pod, policy, T0 } from '../unit/core/support.ts';
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
});

describe('EventRecorder', () => {
  it('writes an events.k8s.io/v1 Event and folds a repeat into its series', async () => {
    const tks = await newTicketKeySet('events');
    const recorder = new EventRecorder({ kubeConfig: testKubeConfig(), reportingInstance: 'tko-test-0', logger: silent });
    const input = { type: 'Warning' as const, reason: 'PromotionTimedOut' as const, action: 'Promote', note: 'pods ats-1 did not acknowledge ring 0123456789abcdef' };
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

describe('SecretStore load/save', () => {
  /** Every way the bytes of the keys of `state` (or its ring) could appear in text. */
  function keyTexts(state: RotationState): string[] {
    const keys = state.keys.map((k) => k.material.copyBytes());
    const ring = encodeRing(ringMaterial(state));
    const texts = [...keyTraces(keys), ...keys.map((b) => b.subarray(0, 12).toString('base64')), ring.toString('base64'), ring.toString('hex')];
    for (const b of [...keys, ring]) b.fill(0);
    return texts;
  }

  it('saves a state, loads it back through the codec, and writes over it with optimistic concurrency', async () => {
    const tks = await newTicketKeySet('codec');
    const owner = { name: 'codec', uid: tks.metadata.uid! };
    const store = new SecretStore({ kubeConfig: testKubeConfig() });
    const core = testKubeConfig().makeApiClient(CoreV1Api);
    const ref = { namespace: ns.name, name: secretName('codec') };
    expect(await store.load(ref)).toBeUndefined();

    const first = step(initialState(), { pods: [pod('a')] }, policy({ rotateNowToken: 'r1', revokeToken: 'v1' }), T0).state;
    const created = await store.save(ref, owner, first);
    expect(created.ownerReferences).toEqual([
      { apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', name: 'codec', uid: tks.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    expect(created.labels).toEqual({ [MANAGED_BY_LABEL]: 'ticket-key-operator', 'ticketkeys.dev/ticketkeyset': 'codec' });
    expect(created).not.toHaveProperty('data');

    // What the API server holds: ring.json, ticket.key (the ring) and the codec's three annotations only.
    const raw = await core.readNamespacedSecret(ref);
    expect(Object.keys(raw.data ?? {}).sort()).toEqual([RING_JSON_KEY, TICKET_KEY_FILE]);
    const ring = encodeRing(ringMaterial(first));
    expect(Buffer.from(raw.data![TICKET_KEY_FILE]!, 'base64').equals(ring)).toBe(true);
    expect(raw.metadata?.annotations).toEqual({ [GENERATION_ANNOTATION]: '1', [PHASE_ANNOTATION]: 'Stable', [RING_FINGERPRINT_ANNOTATION]: ringFingerprint(ring) });
    ring.fill(0);

    const loaded = await store.load(ref);
    if (!loaded || !('state' in loaded)) throw new Error('expected a state');
    expect(loaded.state).toEqual(first);
    expect(loaded.state.handledRotateNowToken).toBe('r1');
    expect(loaded.stored.resourceVersion).toBe(created.resourceVersion);

    const acked = { generation: first.generation, ringFingerprint: ringFingerprint(encodeRing(ringMaterial(first))) };
    const second = step(first, { pods: [pod('a', { acked })] }, policy({ rotateNowToken: 'r2', revokeToken: 'v1' }), T0 + 1000).state;
    expect(second.phase).toBe('Staging');
    const updated = await store.save(ref, owner, second, loaded.stored);
    expect(updated.resourceVersion).not.toBe(loaded.stored.resourceVersion);
    const reloaded = await store.load(ref);
    expect(reloaded && 'state' in reloaded ? reloaded.state : reloaded).toEqual(second);

    // A write based on the old read is refused: the caller must load again and decide again.
    const stale = await store.save(ref, owner, first, loaded.stored).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConflictError);
    for (const t of [...keyTexts(first), ...keyTexts(second)]) expect((stale as Error).message).not.toContain(t);
    await expect(store.save(ref, owner, first)).rejects.toBeInstanceOf(AlreadyExistsError);

    await core.deleteNamespacedSecret(ref);
    await expect(store.save(ref, owner, second, updated)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('loads a Secret the released version wrote (handled tokens also as annotations) and drops those annotations on the next save', async () => {
    const tks = await newTicketKeySet('released');
    const owner = { name: 'released', uid: tks.metadata.uid! };
    const store = new SecretStore({ kubeConfig: testKubeConfig() });
    const core = testKubeConfig().makeApiClient(CoreV1Api);
    const ref = { namespace: ns.name, name: secretName('released') };
    const state = step(initialState(), { pods: [pod('a')] }, policy({ rotateNowToken: 'r1', revokeToken: 'v1' }), T0).state;
    // As the released version's reconciler wrote it: the codec's content plus the tokens as annotations.
    const p = encodeSecret(state);
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: {
        metadata: {
          name: ref.name,
          labels: { [MANAGED_BY_LABEL]: 'ticket-key-operator', 'ticketkeys.dev/ticketkeyset': 'released' },
          annotations: { ...p.annotations, 'ticketkeys.dev/rotate-now-handled': 'r1', 'ticketkeys.dev/revoke-handled': 'v1', 'kept.example/x': 'y' },
        },
        type: 'Opaque',
        data: p.data,
      },
    });
    const loaded = await store.load(ref);
    if (!loaded || !('state' in loaded)) throw new Error('expected a state');
    expect(loaded.state).toEqual(state);
    expect([loaded.state.handledRotateNowToken, loaded.state.handledRevokeToken]).toEqual(['r1', 'v1']);

    await store.save(ref, owner, loaded.state, loaded.stored);
    const raw = await core.readNamespacedSecret(ref);
    expect(raw.metadata?.annotations).toEqual({ ...p.annotations, 'kept.example/x': 'y' });
    const again = await store.load(ref);
    expect(again && 'state' in again ? again.state : again).toEqual(state);
  });

  it('returns unusable content as a SecretFormatError with the Secret to write over', async () => {
    const tks = await newTicketKeySet('unusable');
    const store = new SecretStore({ kubeConfig: testKubeConfig() });
    const ref = { namespace: ns.name, name: secretName('unusable') };
    const state = step(initialState(), { pods: [pod('a')] }, policy(), T0).state;
    const p = encodeSecret(state);
    const written = await store.save(ref, { name: 'unusable', uid: tks.metadata.uid! }, state);
    await testKubeConfig()
      .makeApiClient(CoreV1Api)
      .replaceNamespacedSecret({ ...ref, body: { metadata: { name: ref.name, namespace: ref.namespace, resourceVersion: written.resourceVersion }, data: { ...p.data, [TICKET_KEY_FILE]: '' } } }); // an empty ticket.key: not the ring of ring.json
    const loaded = await store.load(ref);
    if (!loaded || !('error' in loaded)) throw new Error('expected an error');
    expect(loaded.error.code).toBe('ticket-key-mismatch');
    for (const t of keyTexts(state)) expect(loaded.error.message).not.toContain(t);
    // The regenerated state goes over exactly the unusable Secret that was read.
    const fresh = step(initialState(), { pods: [pod('a')] }, policy(), T0 + 1).state;
    await store.save(ref, { name: 'unusable', uid: tks.metadata.uid! }, fresh, loaded.stored);
    const back = await store.load(ref);
    expect(back && 'state' in back ? back.state : back).toEqual(fresh);
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
