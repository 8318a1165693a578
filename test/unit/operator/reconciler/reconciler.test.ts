// The reconcile shell with its I/O faked (informer caches, Secret store, agents, status writer,
// events, pod conditions): what one reconcile reads, writes and pushes, in which order.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import type { ReconcileContext } from '../../../../src/operator/controller.ts';
import type { EventInput } from '../../../../src/operator/kube/event-recorder.ts';
import type { PodConditionUpdate } from '../../../../src/operator/kube/pod-readiness.ts';
import { TicketKeySetReconciler } from '../../../../src/operator/reconciler/reconciler.ts';
import { FakeClock } from '../fake-clock.ts';
import { FakeSource } from '../fake-source.ts';
import { silentLogger } from '../logger.ts';
import { FakeAgents, fakePod, FakeSecrets } from './fakes.ts';

function tksObject(annotations: Record<string, string> = {}): TicketKeySet {
  return {
    apiVersion: 'ticketkeys.dev/v1alpha1',
    kind: 'TicketKeySet',
    metadata: { name: 'web', namespace: 'ns', uid: 'tks-uid', generation: 1, annotations },
    spec: { selector: { matchLabels: { app: 'ats' } }, rotation: { interval: '1h' }, promotion: { timeout: '1m' } },
  };
}

function setup(pods: V1Pod[] = [fakePod('a', { ip: '10.0.0.1' }), fakePod('b', { ip: '10.0.0.2' })]) {
  const clock = new FakeClock();
  const tksSource = new FakeSource<TicketKeySet>({ objects: [tksObject()] });
  const podSource = new FakeSource<V1Pod>({ objects: pods });
  const secrets = new FakeSecrets();
  const agents = new FakeAgents();
  const events: EventInput[] = [];
  const statusWrites: Array<Record<string, unknown>> = [];
  const conditions: Array<{ pod: string; update: PodConditionUpdate }> = [];
  const reconciler = new TicketKeySetReconciler({
    ticketKeySets: tksSource,
    pods: podSource,
    secrets,
    status: {
      patchStatus: (_ref, status, observedGeneration) => {
        statusWrites.push(status);
        // What the informer would deliver after the write.
        const current = tksSource.get('web', 'ns')!;
        const merged: Record<string, unknown> = { ...(current.status ?? {}), ...status, observedGeneration };
        for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
        tksSource.upsert({ ...current, status: merged as TicketKeySet['status'] });
        return Promise.resolve(current as never);
      },
    },
    events: {
      record: (_obj, input) => {
        events.push(input);
        return Promise.resolve(undefined);
      },
    },
    readiness: {
      setCondition: (pod, update) => {
        conditions.push({ pod: pod.metadata!.name!, update });
        return Promise.resolve(undefined);
      },
    },
    agents,
    clock,
  });
  const ctx: ReconcileContext = { namespace: 'ns', name: 'web', logger: silentLogger(), retries: 0 };
  const reconcile = () => reconciler.reconcile('ns/web', ctx);
  return { clock, tksSource, podSource, secrets, agents, events, statusWrites, conditions, reconcile };
}

describe('TicketKeySetReconciler', () => {
  it('creates the Secret before pushing the first ring to every pod, then reports 2/2', async () => {
    const f = setup();
    const result = await f.reconcile();
    expect(f.secrets.writes).toBe(1);
    expect(f.agents.calls).toEqual(['get 10.0.0.1', 'get 10.0.0.2', 'put 10.0.0.1 1', 'put 10.0.0.2 1']);
    const status = f.tksSource.get('web', 'ns')!.status!;
    expect(status).toMatchObject({ keyGeneration: 1, phase: 'Stable', pods: { total: 2, converged: 2, summary: '2/2' }, secretName: 'web-ticket-keys', observedGeneration: 1 });
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(f.events.map((e) => e.reason)).toEqual(['KeyCreated']);
    expect(result).toEqual({ requeueAfterMs: 60_000 });
  });

  it('is idempotent: a second reconcile with nothing changed writes neither Secret nor status', async () => {
    const f = setup();
    await f.reconcile();
    const writes = f.statusWrites.length;
    f.agents.calls.length = 0;
    await f.reconcile();
    expect(f.secrets.writes).toBe(1);
    expect(f.statusWrites.length).toBe(writes);
    expect(f.agents.calls).toEqual(['get 10.0.0.1', 'get 10.0.0.2']);
  });

  it('carries a requested rotation from stage to promoted within one reconcile when every pod acknowledges', async () => {
    const f = setup();
    await f.reconcile();
    const before = f.tksSource.get('web', 'ns')!.status!;
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    f.agents.calls.length = 0;
    await f.reconcile();
    const after = f.tksSource.get('web', 'ns')!.status!;
    expect(after.keyGeneration).toBe(3);
    expect(after.phase).toBe('Stable');
    expect(after.retiredKeys?.map((k) => k.fingerprint)).toEqual([before.activeKey!.fingerprint]);
    expect(f.agents.calls.filter((c) => c.startsWith('put'))).toEqual(['put 10.0.0.1 2', 'put 10.0.0.2 2', 'put 10.0.0.1 3', 'put 10.0.0.2 3']);
    expect(f.events.map((e) => e.reason)).toEqual(['KeyCreated', 'KeyStaged', 'KeyPromoted', 'KeyRetired', 'RotationComplete']);
    expect(f.secrets.stored?.annotations['ticketkeys.dev/rotate-now-handled']).toBe('x');
  });

  it('does not promote while a Ready pod lacks the staged key', async () => {
    const f = setup();
    await f.reconcile();
    f.agents.down.add('10.0.0.2');
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    await f.reconcile();
    const status = f.tksSource.get('web', 'ns')!.status!;
    expect(status.phase).toBe('Staging');
    expect(status.pods?.items?.[0]).toMatchObject({ name: 'b', generation: 1, error: expect.stringContaining('unreachable') });
  });

  it('stops at a Secret conflict: no push, no status, requeue', async () => {
    const f = setup();
    await f.reconcile();
    f.secrets.conflictNext = true;
    f.tksSource.upsert({ ...f.tksSource.get('web', 'ns')!, metadata: { ...tksObject({ 'ticketkeys.dev/rotate-now': 'x' }).metadata } });
    f.agents.calls.length = 0;
    const writes = f.statusWrites.length;
    expect(await f.reconcile()).toEqual({ requeue: true });
    expect(f.agents.calls.filter((c) => c.startsWith('put'))).toEqual([]);
    expect(f.statusWrites.length).toBe(writes);
  });

  it('never overwrites a Secret it cannot read; reports Degraded SecretUnusable', async () => {
    const f = setup();
    await f.reconcile();
    f.secrets.stored!.data['ring.json'] = Buffer.from('{not json');
    const writes = f.secrets.writes;
    expect(await f.reconcile()).toEqual({ requeueAfterMs: 60_000 });
    expect(f.secrets.writes).toBe(writes);
    const degraded = f.tksSource.get('web', 'ns')!.status!.conditions!.find((c) => c.type === 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'SecretUnusable' });
    expect(f.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'SecretUnusable' });
  });

  it('sets keys-installed on gated pods: False while the agent is unreachable, True once it holds the ring', async () => {
    const f = setup([fakePod('g', { ip: '10.0.0.9', gate: true, ready: false })]);
    f.agents.down.add('10.0.0.9');
    await f.reconcile();
    expect(f.conditions.at(-1)).toEqual({ pod: 'g', update: { status: false, reason: 'AgentUnreachable', message: 'the agent did not acknowledge generation 1' } });
    f.agents.down.delete('10.0.0.9');
    await f.clock.advance(120_000); // past the push retry backoff
    await f.reconcile();
    expect(f.conditions.at(-1)).toEqual({ pod: 'g', update: { status: true, reason: 'RingInstalled', message: 'the agent holds the current ring (generation 1)' } });
  });

  it('re-pushes to a pod that lost the current ring and records DriftRepaired', async () => {
    const f = setup();
    await f.reconcile();
    f.agents.held.delete('10.0.0.2'); // ATS restarted: nothing installed
    await f.reconcile();
    const drift = f.events.find((e) => e.reason === 'DriftRepaired');
    expect(drift).toMatchObject({ type: 'Warning', related: { kind: 'Pod', name: 'b' } });
    expect(f.agents.held.get('10.0.0.2')?.generation).toBe(1);
  });
});
