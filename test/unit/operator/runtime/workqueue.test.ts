import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { WorkQueue } from '../../../../src/operator/runtime/workqueue.ts';
import { WorkqueueMetrics } from '../../../../src/operator/runtime/workqueue-metrics.ts';
import { ExponentialFailureRateLimiter, backoffDelay } from '../../../../src/operator/runtime/rate-limiter.ts';
import { FakeClock, settle } from './fake-clock.ts';

function setup() {
  const clock = new FakeClock();
  const registry = new Registry();
  const queue = new WorkQueue({ name: 'test', clock, metrics: new WorkqueueMetrics(registry) });
  return { clock, registry, queue };
}

async function metric(registry: Registry, name: string): Promise<number | undefined> {
  const json = await registry.getMetricsAsJSON();
  const m = json.find((x) => x.name === name);
  // Histograms are not read here; counters and gauges have one value per label set.
  const v = m?.values.find((x) => x.labels.name === 'test');
  return v?.value;
}

describe('WorkQueue', () => {
  it('hands out keys in FIFO order', async () => {
    const { queue } = setup();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/c');
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(['ns/a', 'ns/b', 'ns/c']);
  });

  it('deduplicates a key added while it waits', async () => {
    const { queue } = setup();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.len()).toBe(2);
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
  });

  it('never hands a key being processed to a second worker, and queues it again after done', async () => {
    const { queue } = setup();
    queue.add('ns/a');
    const first = await queue.get();
    queue.add('ns/a'); // changed while processing
    expect(queue.len()).toBe(0);
    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    await settle();
    expect(second).toBeUndefined();
    queue.done(first!);
    await settle();
    expect(second).toBe('ns/a');
  });

  it('does not queue a processed key again when nobody added it meanwhile', async () => {
    const { queue } = setup();
    queue.add('ns/a');
    queue.done((await queue.get())!);
    expect(queue.len()).toBe(0);
  });

  it('wakes a waiting worker when a key is added', async () => {
    const { queue } = setup();
    const got = queue.get();
    queue.add('ns/a');
    expect(await got).toBe('ns/a');
  });

  it('adds a key after the requested delay (addAfter)', async () => {
    const { clock, queue } = setup();
    queue.addAfter('ns/a', 1000);
    await clock.advance(999);
    expect(queue.len()).toBe(0);
    await clock.advance(1);
    expect(queue.len()).toBe(1);
  });

  it('keeps the earlier due time when a delayed key is scheduled twice', async () => {
    const { clock, queue } = setup();
    queue.addAfter('ns/a', 5000);
    queue.addAfter('ns/a', 1000);
    queue.addAfter('ns/a', 3000);
    await clock.advance(1000);
    expect(queue.len()).toBe(1);
    expect(await queue.get()).toBe('ns/a');
    await clock.advance(10_000);
    expect(queue.len()).toBe(0);
  });

  it('adds at once when addAfter gets a delay of zero or less', () => {
    const { queue } = setup();
    queue.addAfter('ns/a', 0);
    queue.addAfter('ns/b', -5);
    expect(queue.len()).toBe(2);
  });

  it('backs off exponentially per key on addRateLimited and resets on forget', async () => {
    const { clock, queue } = setup();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const start = clock.now();
      queue.addRateLimited('ns/a');
      const due = clock.nextTimerAt()!;
      delays.push(due - start);
      await clock.advance(due - start);
      queue.done((await queue.get())!);
    }
    expect(delays).toEqual([5, 10, 20, 40]);
    expect(queue.numRequeues('ns/a')).toBe(4);
    queue.forget('ns/a');
    expect(queue.numRequeues('ns/a')).toBe(0);
    const start = clock.now();
    queue.addRateLimited('ns/a');
    expect(clock.nextTimerAt()! - start).toBe(5);
  });

  it('keeps separate backoff per key', () => {
    const { queue } = setup();
    queue.addRateLimited('ns/a');
    queue.addRateLimited('ns/a');
    queue.addRateLimited('ns/b');
    expect(queue.numRequeues('ns/a')).toBe(2);
    expect(queue.numRequeues('ns/b')).toBe(1);
  });

  it('shutdown drains queued keys, waits for keys in progress, and then returns undefined', async () => {
    const { clock, queue } = setup();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.addAfter('ns/late', 1000);
    const inProgress = (await queue.get())!;
    let drained = false;
    const shutdown = queue.shutdown().then(() => (drained = true));
    queue.add('ns/ignored');
    expect(await queue.get()).toBe('ns/b');
    queue.done('ns/b');
    await settle();
    expect(drained).toBe(false);
    queue.done(inProgress);
    await shutdown;
    expect(drained).toBe(true);
    expect(await queue.get()).toBeUndefined();
    await clock.advance(5000);
    expect(queue.len()).toBe(0);
  });

  it('shutdown releases idle workers waiting in get()', async () => {
    const { queue } = setup();
    const waiting = [queue.get(), queue.get()];
    await queue.shutdown();
    expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
  });

  it('reports client-go work-queue metrics under the queue name', async () => {
    const { clock, queue, registry } = setup();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(await metric(registry, 'workqueue_adds_total')).toBe(2);
    expect(await metric(registry, 'workqueue_depth')).toBe(2);
    await clock.advance(2000);
    const key = (await queue.get())!;
    expect(await metric(registry, 'workqueue_depth')).toBe(1);
    await clock.advance(3000);
    expect(await metric(registry, 'workqueue_longest_running_processor_seconds')).toBe(3);
    expect(await metric(registry, 'workqueue_unfinished_work_seconds')).toBe(3);
    queue.done(key);
    expect(await metric(registry, 'workqueue_longest_running_processor_seconds')).toBe(0);
    queue.addRateLimited('ns/a');
    expect(await metric(registry, 'workqueue_retries_total')).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('workqueue_queue_duration_seconds_sum{name="test"} 2');
    expect(text).toContain('workqueue_work_duration_seconds_sum{name="test"} 3');
  });
});

describe('WorkQueue priorities', () => {
  it('hands out every normal key before any low one, each level in FIFO order', async () => {
    const { queue } = setup();
    queue.add('ns/resync-1', 'low');
    queue.add('ns/change-1');
    queue.add('ns/resync-2', 'low');
    queue.add('ns/change-2');
    expect(queue.len()).toBe(4);
    expect(queue.lenLow()).toBe(2);
    const order = [];
    for (let i = 0; i < 4; i++) order.push(await queue.get());
    expect(order).toEqual(['ns/change-1', 'ns/change-2', 'ns/resync-1', 'ns/resync-2']);
  });

  it('moves a key waiting at low up when it is added at normal, and never down', async () => {
    const { queue } = setup();
    queue.add('ns/a');
    queue.add('ns/b', 'low');
    queue.add('ns/c', 'low');
    queue.add('ns/c'); // a change to c while its resync waits
    queue.add('ns/a', 'low'); // a resync of a key already waiting as a change
    expect(queue.len()).toBe(3);
    expect(queue.lenLow()).toBe(1);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(['ns/a', 'ns/c', 'ns/b']);
  });

  it('a key changed while its low-priority reconcile runs comes back at normal', async () => {
    const { queue } = setup();
    queue.add('ns/a', 'low');
    const key = (await queue.get())!;
    queue.add('ns/b', 'low');
    queue.add('ns/a', 'low');
    queue.add('ns/a');
    queue.done(key);
    expect([await queue.get(), await queue.get()]).toEqual(['ns/a', 'ns/b']);
  });

  it('a delayed low key fires at low; a normal addAfter for the same key raises the pending one', async () => {
    const { queue, clock } = setup();
    queue.addAfter('ns/resync', 100, 'low');
    queue.addAfter('ns/raised', 100, 'low');
    queue.addAfter('ns/raised', 500); // later due time: the earlier one stays, at normal
    queue.addAfter('ns/event', 200);
    await clock.advance(300);
    expect(queue.lenLow()).toBe(1);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual(['ns/raised', 'ns/event', 'ns/resync']);
  });

  it('shutdown drains both levels before workers get undefined', async () => {
    const { queue } = setup();
    queue.add('ns/a', 'low');
    queue.add('ns/b');
    const drained = queue.shutdown();
    const b = (await queue.get())!;
    queue.done(b);
    const a = (await queue.get())!;
    queue.done(a);
    expect([b, a]).toEqual(['ns/b', 'ns/a']);
    expect(await queue.get()).toBeUndefined();
    await drained;
  });
});

describe('ExponentialFailureRateLimiter', () => {
  it('caps the delay at the maximum', () => {
    const limiter = new ExponentialFailureRateLimiter({ baseDelayMs: 5, maxDelayMs: 1_000_000 });
    let last = 0;
    for (let i = 0; i < 100; i++) last = limiter.when('k');
    expect(last).toBe(1_000_000);
  });

  it('computes base·2^n without overflowing for huge n', () => {
    expect(backoffDelay(0, 5, 1000)).toBe(5);
    expect(backoffDelay(3, 5, 1000)).toBe(40);
    expect(backoffDelay(10_000, 5, 1000)).toBe(1000);
  });
});
