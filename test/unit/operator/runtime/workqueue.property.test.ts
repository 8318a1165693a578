// Property: whatever the interleaving of adds, delayed adds, gets and dones, no key is ever
// held by two workers at once, and no add is lost (each add is followed by a processing start),
// at either priority.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { WorkQueue, type Priority } from '../../../../src/operator/runtime/workqueue.ts';
import { FakeClock } from './fake-clock.ts';

type Op =
  | { kind: 'add'; key: string; priority: Priority }
  | { kind: 'addAfter'; key: string; ms: number; priority: Priority }
  | { kind: 'get'; worker: number }
  | { kind: 'done'; worker: number }
  | { kind: 'advance'; ms: number };

const keys = fc.constantFrom('ns/a', 'ns/b', 'ns/c');
const priority = fc.constantFrom<Priority>('normal', 'low');
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), key: keys, priority }),
  fc.record({ kind: fc.constant('addAfter' as const), key: keys, ms: fc.integer({ min: 0, max: 50 }), priority }),
  fc.record({ kind: fc.constant('get' as const), worker: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('done' as const), worker: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 30 }) }),
);

describe('WorkQueue properties', () => {
  it('never gives one key to two workers and never loses an add', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const clock = new FakeClock();
        const queue = new WorkQueue({ name: 'prop', clock });
        const held = new Map<number, string>(); // worker → key
        let step = 0;
        const lastAdd = new Map<string, number>(); // key → step of its last add becoming effective
        const lastStart = new Map<string, number>();
        const track = (key: string) => lastAdd.set(key, ++step);
        // Pending delayed adds (the earliest due time per key wins, as in client-go).
        const scheduled = new Map<string, number>();
        const start = async (worker: number) => {
          const key = (await queue.get())!;
          expect([...held.values()]).not.toContain(key);
          held.set(worker, key);
          lastStart.set(key, ++step);
        };

        for (const o of ops) {
          switch (o.kind) {
            case 'add':
              queue.add(o.key, o.priority);
              track(o.key);
              break;
            case 'addAfter':
              queue.addAfter(o.key, o.ms, o.priority);
              if (o.ms <= 0) track(o.key);
              else if ((scheduled.get(o.key) ?? Infinity) > clock.now() + o.ms) scheduled.set(o.key, clock.now() + o.ms);
              break;
            case 'get':
              if (!held.has(o.worker) && queue.len() > 0) await start(o.worker);
              break;
            case 'done': {
              const key = held.get(o.worker);
              if (key !== undefined) {
                held.delete(o.worker);
                queue.done(key);
              }
              break;
            }
            case 'advance': {
              // Delayed adds become effective when their timers fire; count them as adds then.
              await clock.advance(o.ms);
              for (const [key, dueAt] of [...scheduled]) {
                if (dueAt <= clock.now()) {
                  scheduled.delete(key);
                  track(key);
                }
              }
              break;
            }
          }
        }
        // Finish everything: release held keys, fire all timers, drain with one worker.
        for (const [worker, key] of [...held]) {
          held.delete(worker);
          queue.done(key);
        }
        await clock.advance(1000);
        for (const key of scheduled.keys()) track(key);
        while (queue.len() > 0) {
          await start(0);
          const key = held.get(0)!;
          held.delete(0);
          queue.done(key);
        }
        for (const [key, addedAt] of lastAdd) expect(lastStart.get(key) ?? 0).toBeGreaterThan(addedAt);
      }),
      { numRuns: 300 },
    );
  });
});
