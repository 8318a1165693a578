import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { Controller, type ReconcileResult } from '../../../../src/operator/runtime/controller.ts';
import { ControllerMetrics } from '../../../../src/operator/runtime/controller-metrics.ts';
import { mapToSelf, specAndMetadataFingerprint } from '../../../../src/operator/runtime/mappers.ts';
import { WorkqueueMetrics } from '../../../../src/operator/runtime/workqueue-metrics.ts';
import { FakeClock, settle, until } from './fake-clock.ts';
import { FakeSource, obj } from './fake-source.ts';
import { silentLogger } from '../logger.ts';

/** A reconciler whose calls the test completes one by one. */
class ScriptedReconciler {
  calls: string[] = [];
  active = new Map<string, number>();
  maxActive = 0;
  private pending: Array<{ key: string; resolve: (r: ReconcileResult | void) => void; reject: (e: Error) => void }> = [];

  reconcile = (key: string): Promise<ReconcileResult | void> => {
    this.calls.push(key);
    this.active.set(key, (this.active.get(key) ?? 0) + 1);
    const total = [...this.active.values()].reduce((a, b) => a + b, 0);
    this.maxActive = Math.max(this.maxActive, total);
    return new Promise((resolve, reject) => {
      const end = () => this.active.set(key, (this.active.get(key) ?? 1) - 1);
      this.pending.push({
        key,
        resolve: (r) => {
          end();
          resolve(r);
        },
        reject: (e) => {
          end();
          reject(e);
        },
      });
    });
  };

  inFlight(): string[] {
    return this.pending.map((p) => p.key);
  }
  finish(key: string, result: ReconcileResult | void = {}): void {
    const i = this.pending.findIndex((p) => p.key === key);
    if (i < 0) throw new Error(`no reconcile in flight for ${key}`);
    const [p] = this.pending.splice(i, 1);
    p!.resolve(result);
  }
  fail(key: string): void {
    const i = this.pending.findIndex((p) => p.key === key);
    if (i < 0) throw new Error(`no reconcile in flight for ${key}`);
    const [p] = this.pending.splice(i, 1);
    p!.reject(new Error('boom'));
  }
}

function setup(options: { maxConcurrentReconciles?: number } = {}) {
  const clock = new FakeClock();
  const registry = new Registry();
  const r = new ScriptedReconciler();
  const controller = new Controller({
    name: 'ticketkeyset',
    reconcile: r.reconcile,
    clock,
    logger: silentLogger(),
    metrics: { workqueue: new WorkqueueMetrics(registry), controller: new ControllerMetrics(registry) },
    ...options,
  });
  return { clock, registry, r, controller };
}

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('Controller', () => {
  it('waits for its sources to sync before reconciling, then replays the cache', async () => {
    const { r, controller } = setup();
    const source = new FakeSource({ synced: false, objects: [obj('ns', 'a'), obj('ns', 'b')] });
    controller.watch(source, mapToSelf);
    const started = controller.start();
    await settle();
    expect(r.calls).toEqual([]);
    source.markSynced();
    await started;
    await until(() => r.calls.length === 1);
    expect(r.calls).toEqual(['ns/a']);
    r.finish('ns/a');
    await until(() => r.calls.length === 2);
    expect(r.calls).toEqual(['ns/a', 'ns/b']);
    r.finish('ns/b');
    await controller.stop();
  });

  it('enqueues mapped keys on add, update and delete', async () => {
    const { r, controller } = setup();
    const pods = new FakeSource<KubernetesObject>();
    controller.watch(pods, (pod) => [`ns/owner-of-${pod.metadata!.name}`]);
    await controller.start();
    pods.upsert(obj('ns', 'p1'));
    await until(() => r.calls.length === 1);
    r.finish('ns/owner-of-p1');
    pods.upsert(obj('ns', 'p1', { changed: 'yes' }));
    await until(() => r.calls.length === 2);
    r.finish('ns/owner-of-p1');
    pods.remove(obj('ns', 'p1'));
    await until(() => r.calls.length === 3);
    r.finish('ns/owner-of-p1');
    expect(r.calls).toEqual(['ns/owner-of-p1', 'ns/owner-of-p1', 'ns/owner-of-p1']);
    await controller.stop();
  });

  it('also enqueues the keys an updated object no longer maps to', async () => {
    const { r, controller } = setup({ maxConcurrentReconciles: 4 });
    const pods = new FakeSource<KubernetesObject>();
    controller.watch(pods, (pod) => (pod.metadata?.labels?.app ? [`ns/tks-${pod.metadata.labels.app}`] : []));
    await controller.start();
    pods.upsert(obj('ns', 'p1', { app: 'x' }));
    await until(() => r.calls.length === 1);
    r.finish('ns/tks-x');
    pods.upsert(obj('ns', 'p1', { app: 'y' }));
    await until(() => r.calls.length === 3);
    expect(r.calls.slice(1).sort()).toEqual(['ns/tks-x', 'ns/tks-y']);
    r.finish('ns/tks-x');
    r.finish('ns/tks-y');
    pods.upsert(obj('ns', 'p1', {}));
    await until(() => r.calls.length === 4);
    expect(r.calls[3]).toBe('ns/tks-y');
    r.finish('ns/tks-y');
    await controller.stop();
  });

  it('runs at most maxConcurrentReconciles at once and never one key twice at once', async () => {
    const { r, controller, registry } = setup({ maxConcurrentReconciles: 2 });
    const source = new FakeSource<KubernetesObject>();
    controller.watch(source, mapToSelf);
    await controller.start();
    expect(await value(registry, 'controller_runtime_max_concurrent_reconciles', { controller: 'ticketkeyset' })).toBe(2);
    for (const n of ['a', 'b', 'c']) source.upsert(obj('ns', n));
    await until(() => r.inFlight().length === 2);
    expect(r.inFlight()).toEqual(['ns/a', 'ns/b']);
    expect(controller.activeWorkers()).toBe(2);
    expect(await value(registry, 'controller_runtime_active_workers', { controller: 'ticketkeyset' })).toBe(2);
    source.upsert(obj('ns', 'a', { v: '2' })); // a changes while being reconciled
    r.finish('ns/a');
    await until(() => r.inFlight().length === 2 && r.calls.length === 3);
    expect(r.inFlight()).toEqual(['ns/b', 'ns/c']);
    r.finish('ns/b');
    await until(() => r.calls.length === 4);
    expect(r.calls[3]).toBe('ns/a');
    r.finish('ns/c');
    r.finish('ns/a');
    await controller.stop();
    expect(r.maxActive).toBe(2);
    expect(Math.max(...[...r.active.values()])).toBe(0);
  });

  it('requeues a failed reconcile with per-key exponential backoff', async () => {
    const { clock, r, controller, registry } = setup();
    const source = new FakeSource<KubernetesObject>({ objects: [obj('ns', 'a')] });
    controller.watch(source, mapToSelf);
    await controller.start();
    await until(() => r.calls.length === 1);
    r.fail('ns/a');
    await until(() => controller.queue.pendingDelayed() === 1);
    await clock.advance(4);
    expect(r.calls.length).toBe(1);
    await clock.advance(1); // 5 ms
    await until(() => r.calls.length === 2);
    r.fail('ns/a');
    await until(() => controller.queue.pendingDelayed() === 1);
    await clock.advance(9);
    expect(r.calls.length).toBe(2);
    await clock.advance(1); // 10 ms
    await until(() => r.calls.length === 3);
    r.finish('ns/a');
    await until(() => controller.queue.numRequeues('ns/a') === 0);
    expect(await value(registry, 'controller_runtime_reconcile_errors_total', { controller: 'ticketkeyset' })).toBe(2);
    expect(await value(registry, 'controller_runtime_reconcile_total', { controller: 'ticketkeyset', result: 'error' })).toBe(2);
    expect(await value(registry, 'controller_runtime_reconcile_total', { controller: 'ticketkeyset', result: 'success' })).toBe(1);
    await controller.stop();
  });

  it('schedules the next reconcile after requeueAfterMs and resets the backoff', async () => {
    const { clock, r, controller, registry } = setup();
    const source = new FakeSource<KubernetesObject>({ objects: [obj('ns', 'a')] });
    controller.watch(source, mapToSelf);
    await controller.start();
    await until(() => r.calls.length === 1);
    r.fail('ns/a');
    await until(() => controller.queue.pendingDelayed() === 1);
    await clock.advance(5);
    await until(() => r.calls.length === 2);
    r.finish('ns/a', { requeueAfterMs: 60_000 });
    await until(() => controller.queue.pendingDelayed() === 1);
    expect(controller.queue.numRequeues('ns/a')).toBe(0);
    await clock.advance(59_999);
    expect(r.calls.length).toBe(2);
    await clock.advance(1);
    await until(() => r.calls.length === 3);
    r.finish('ns/a');
    expect(await value(registry, 'controller_runtime_reconcile_total', { controller: 'ticketkeyset', result: 'requeue_after' })).toBe(1);
    await controller.stop();
  });

  it('requeues with backoff when reconcile asks for requeue', async () => {
    const { clock, r, controller } = setup();
    const source = new FakeSource<KubernetesObject>({ objects: [obj('ns', 'a')] });
    controller.watch(source, mapToSelf);
    await controller.start();
    await until(() => r.calls.length === 1);
    r.finish('ns/a', { requeue: true });
    await until(() => controller.queue.pendingDelayed() === 1);
    expect(controller.queue.numRequeues('ns/a')).toBe(1);
    await clock.advance(5);
    await until(() => r.calls.length === 2);
    r.finish('ns/a');
    await controller.stop();
  });

  it('keeps going when a mapping function throws', async () => {
    const { r, controller } = setup();
    const source = new FakeSource<KubernetesObject>();
    controller.watch(source, (o) => {
      if (o.metadata?.name === 'bad') throw new Error('mapping bug');
      return mapToSelf(o);
    });
    await controller.start();
    source.upsert(obj('ns', 'bad'));
    source.upsert(obj('ns', 'good'));
    await until(() => r.calls.length === 1);
    expect(r.calls).toEqual(['ns/good']);
    r.finish('ns/good');
    await controller.stop();
  });

  it('stop waits for reconciles in flight, then detaches from its sources', async () => {
    const { r, controller } = setup();
    const source = new FakeSource<KubernetesObject>({ objects: [obj('ns', 'a')] });
    controller.watch(source, mapToSelf);
    await controller.start();
    await until(() => r.calls.length === 1);
    let stopped = false;
    const stopping = controller.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    r.finish('ns/a');
    await stopping;
    expect(source.handlerCount()).toBe(0);
    expect(controller.isRunning()).toBe(false);
  });

  it('start fails when stopped before the sources synced', async () => {
    const { controller } = setup();
    controller.watch(new FakeSource<KubernetesObject>({ synced: false }), mapToSelf);
    const started = controller.start();
    await controller.stop();
    await expect(started).rejects.toThrow();
  });

  it('skips updates whose fingerprint did not change (own status writes), not spec, annotation or delete changes', async () => {
    const { r, controller } = setup();
    const sets = new FakeSource<KubernetesObject>();
    controller.watch(sets, mapToSelf, { fingerprint: specAndMetadataFingerprint });
    await controller.start();
    const base = (extra: Record<string, unknown>): KubernetesObject => ({ ...obj('ns', 'web'), ...extra }) as KubernetesObject;
    sets.upsert(base({ metadata: { namespace: 'ns', name: 'web', generation: 1, resourceVersion: '1' } }));
    await until(() => r.calls.length === 1);
    r.finish('ns/web');
    // The operator's own status write: new resourceVersion, same generation and metadata.
    sets.upsert(base({ metadata: { namespace: 'ns', name: 'web', generation: 1, resourceVersion: '2' }, status: { phase: 'Stable' } }));
    await settle();
    expect(r.calls).toHaveLength(1);
    // A rotate-now annotation is a change.
    sets.upsert(base({ metadata: { namespace: 'ns', name: 'web', generation: 1, resourceVersion: '3', annotations: { 'ticketkeys.dev/rotate-now': 'x' } } }));
    await until(() => r.calls.length === 2);
    r.finish('ns/web');
    // A spec change (generation) is a change.
    sets.upsert(base({ metadata: { namespace: 'ns', name: 'web', generation: 2, resourceVersion: '4', annotations: { 'ticketkeys.dev/rotate-now': 'x' } } }));
    await until(() => r.calls.length === 3);
    r.finish('ns/web');
    sets.remove(obj('ns', 'web'));
    await until(() => r.calls.length === 4);
    r.finish('ns/web');
    await controller.stop();
  });

  it('skips the updates ignoreUpdate names (own writes) and no others; a throwing predicate lets the update through', async () => {
    const { r, controller } = setup();
    const secrets = new FakeSource<KubernetesObject>();
    const own = new Set(['7']);
    controller.watch(secrets, mapToSelf, {
      ignoreUpdate: (s) => {
        if (s.metadata?.resourceVersion === 'boom') throw new Error('predicate bug');
        return own.has(s.metadata?.resourceVersion ?? '');
      },
    });
    await controller.start();
    const secret = (rv: string): KubernetesObject => ({ ...obj('ns', 's'), metadata: { namespace: 'ns', name: 's', resourceVersion: rv } });
    secrets.upsert(secret('6'));
    await until(() => r.calls.length === 1);
    r.finish('ns/s');
    secrets.upsert(secret('7'));
    await settle();
    expect(r.calls).toHaveLength(1);
    secrets.upsert(secret('8')); // someone else's write
    await until(() => r.calls.length === 2);
    r.finish('ns/s');
    secrets.upsert(secret('boom'));
    await until(() => r.calls.length === 3);
    r.finish('ns/s');
    await controller.stop();
  });

  it('a resync requeue waits behind changes; the initial list waits behind events that arrive meanwhile', async () => {
    const { r, controller, clock } = setup();
    const source = new FakeSource<KubernetesObject>({ objects: [obj('ns', 'listed-1'), obj('ns', 'listed-2')] });
    controller.watch(source, mapToSelf);
    await controller.start();
    await until(() => r.calls.length === 1);
    expect(r.calls).toEqual(['ns/listed-1']);
    source.upsert(obj('ns', 'changed')); // arrives while the initial list is worked off
    r.finish('ns/listed-1', { requeueAfterMs: 1000, resync: true });
    await until(() => r.calls.length === 2);
    expect(r.calls[1]).toBe('ns/changed');
    r.finish('ns/changed', { requeueAfterMs: 500 }); // due sooner: a schedule, normal priority
    await until(() => r.calls.length === 3);
    expect(r.calls[2]).toBe('ns/listed-2');
    await clock.advance(1000); // both fall due while listed-2 runs
    r.finish('ns/listed-2');
    await until(() => r.calls.length === 4);
    r.finish(r.calls[3]!);
    await until(() => r.calls.length === 5);
    // ns/listed-1 fell due first (at 1000 ms from its finish) but is a resync: ns/changed goes first.
    expect(r.calls.slice(3)).toEqual(['ns/changed', 'ns/listed-1']);
    r.finish('ns/listed-1');
    await controller.stop();
  });
});
