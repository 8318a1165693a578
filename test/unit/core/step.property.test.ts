// Property-based tests of the rotation protocol over random schedules: time passing, pods
// joining, leaving, turning (not) Ready, lagging, restarting ATS, operator crashes mid-step,
// rotate-now, suspend toggles and revokes. The simulator checks the invariants at every
// instant and throws InvariantViolation on the first breach.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { PUSH_RETRY_MAX_MS } from '../../../src/core/backoff.ts';
import type { RotationPolicy } from '../../../src/core/policy.ts';
import { activeKey } from '../../../src/core/state.ts';
import { Simulation, type SimEvent } from './simulator.ts';
import { seededRandom } from '../../fixtures/keys.ts';
import { HOUR, MIN, SEC, T0, policy } from './support.ts';

const policyArb: fc.Arbitrary<RotationPolicy> = fc
  .record({
    intervalMs: fc.constantFrom(10 * SEC, MIN, 10 * MIN),
    lifetimeFactor: fc.constantFrom(0.5, 1, 3, 20),
    timeoutFactor: fc.constantFrom(0.1, 0.5, 0.9),
  })
  .map(({ intervalMs, lifetimeFactor, timeoutFactor }) =>
    policy({
      intervalMs,
      ticketLifetimeMs: Math.round(intervalMs * lifetimeFactor),
      promotionTimeoutMs: Math.max(SEC, Math.round(intervalMs * timeoutFactor)),
    }),
  );

const idx = fc.nat({ max: 11 });

function eventArb(intervalMs: number): fc.Arbitrary<SimEvent> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(0.01, 0.05, 0.3, 1, 2.5).map((f): SimEvent => ({ t: 'advance', ms: Math.round(intervalMs * f) })) },
    { weight: 3, arbitrary: fc.constantFrom(SEC, 2 * SEC).map((ms): SimEvent => ({ t: 'advance', ms })) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.boolean(), fc.constantFrom(0, 0, 50, 3 * SEC, 30 * SEC))
        .map(([reachable, latencyMs]): SimEvent => ({ t: 'addPod', reachable, latencyMs })),
    },
    { weight: 4, arbitrary: idx.map((i): SimEvent => ({ t: 'setReady', i })) },
    { weight: 1, arbitrary: idx.map((i): SimEvent => ({ t: 'setNotReady', i })) },
    { weight: 4, arbitrary: fc.tuple(idx, fc.boolean()).map(([i, reachable]): SimEvent => ({ t: 'setReachable', i, reachable })) },
    { weight: 1, arbitrary: idx.map((i): SimEvent => ({ t: 'removePod', i })) },
    { weight: 1, arbitrary: idx.map((i): SimEvent => ({ t: 'terminatePod', i })) },
    { weight: 1, arbitrary: idx.map((i): SimEvent => ({ t: 'restartAts', i })) },
    { weight: 1, arbitrary: fc.constant<SimEvent>({ t: 'rotateNow' }) },
    { weight: 1, arbitrary: fc.constant<SimEvent>({ t: 'revoke' }) },
    { weight: 1, arbitrary: fc.constant<SimEvent>({ t: 'toggleSuspend' }) },
    { weight: 1, arbitrary: fc.tuple(fc.nat({ max: 4 }), fc.nat({ max: 3 })).map(([actions, pods]): SimEvent => ({ t: 'crashNextReconcile', actions, pods })) },
    { weight: 1, arbitrary: fc.constant<SimEvent>({ t: 'reconcile' }) },
  );
}

const scenarioArb = policyArb.chain((pol) =>
  fc.record({
    policy: fc.constant(pol),
    initialPods: fc.array(fc.constantFrom(0, 50, 3 * SEC), { maxLength: 4 }),
    events: fc.array(eventArb(pol.intervalMs), { minLength: 10, maxLength: 60 }),
    seed: fc.integer(),
  }),
);

type Scenario = { policy: RotationPolicy; initialPods: number[]; events: SimEvent[]; seed: number };

function start(sc: Scenario, overrides: Partial<RotationPolicy> = {}, record = false): Simulation {
  const sim = new Simulation({ policy: { ...sc.policy, ...overrides }, random: seededRandom(sc.seed), start: T0, fanoutSeed: sc.seed, recordDecryptViolations: record });
  for (const latencyMs of sc.initialPods) sim.apply({ t: 'addPod', reachable: true, latencyMs });
  sim.apply({ t: 'advance', ms: 3 * SEC });
  sc.initialPods.forEach((_, i) => sim.apply({ t: 'setReady', i }));
  return sim;
}

describe('rotation protocol under random schedules (AllPodsAcknowledged)', () => {
  it('keeps every invariant at every instant', () => {
    // Invariants (see simulator.ts): every Ready pod decrypts every key any Ready pod encrypts
    // with, and every still-valid ticket; exactly one active key; generation strictly increases
    // on ring changes and is never reused; pushes only carry the persisted ring and are never
    // refused as stale; retired keys live >= ticketLifetime + promotionTimeout; the ring holds
    // <= 16 keys; after a revoke only keys created after it remain; the Secret round-trips.
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const sim = start(sc);
        for (const ev of sc.events) sim.apply(ev);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps every invariant while agents flap during rotations (laggards in the middle of a promotion)', () => {
    // Focused on the narrow windows: a Ready pod acknowledged the staged ring, then becomes
    // unreachable before the promotion reaches it, and stays behind longer than the retired
    // key's nominal lifetime.
    const flapArb = policyArb.chain((pol) =>
      fc.record({
        policy: fc.constant(pol),
        initialPods: fc.array(fc.constantFrom(0, 50, 3 * SEC), { minLength: 2, maxLength: 4 }),
        events: fc.array(
          fc.oneof(
            fc.integer({ min: 100, max: 3 * SEC }).map((ms): SimEvent => ({ t: 'advance', ms })),
            fc.constantFrom(0.5, 1, 3).map((f): SimEvent => ({ t: 'advance', ms: pol.intervalMs * f })),
            fc.tuple(fc.nat({ max: 3 }), fc.boolean()).map(([i, reachable]): SimEvent => ({ t: 'setReachable', i, reachable })),
          ),
          { minLength: 5, maxLength: 40 },
        ),
        seed: fc.integer(),
      }),
    );
    fc.assert(
      fc.property(flapArb, (sc) => {
        const sim = start(sc);
        for (const ev of sc.events) sim.apply(ev);
      }),
      { numRuns: 300 },
    );
  });

  it('recovers: once every agent is reachable and rotation resumes, rotations complete and every pod converges', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const sim = start(sc);
        for (const ev of sc.events) sim.apply(ev);
        // Heal the world.
        for (const p of sim.pods) {
          p.reachable = true;
        }
        if (sim.policy.suspend) sim.apply({ t: 'toggleSuspend' });
        // A rotation that no pod acknowledges never completes: with no pod left, one joins.
        if (!sim.pods.some((p) => !p.terminating)) sim.apply({ t: 'addPod', reachable: true });
        sim.apply({ t: 'reconcile' });
        const before = sim.events.filter((e) => e.reason === 'KeyPromoted').length;
        // Failing pods are retried with backoff (at most PUSH_RETRY_MAX_MS apart).
        const horizon = PUSH_RETRY_MAX_MS + sim.policy.ticketLifetimeMs + sim.policy.promotionTimeoutMs + 3 * sim.policy.intervalMs;
        sim.apply({ t: 'advance', ms: horizon });
        expect(sim.events.filter((e) => e.reason === 'KeyPromoted').length).toBeGreaterThan(before);
        // Pause rotation, let retired keys expire and every push (30 s agents, backoff) land.
        sim.apply({ t: 'toggleSuspend' });
        const quiet = sim.policy.ticketLifetimeMs + sim.policy.promotionTimeoutMs + 5 * MIN;
        sim.apply({ t: 'advance', ms: quiet });
        const current = sim.currentRing()!;
        for (const p of sim.pods.filter((x) => !x.terminating)) {
          expect(p.ring).toMatchObject({ generation: current.generation, fingerprint: current.fp });
        }
        expect(sim.load().phase).toBe('Stable');
        expect(sim.load().keys).toHaveLength(1);
      }),
      { numRuns: 60 },
    );
  });

  it('rotates exactly once per period when nothing interferes, however long the operator was away', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), (pol, periods, pods) => {
        const sim = start({ policy: { ...pol, ticketLifetimeMs: pol.intervalMs }, initialPods: Array.from({ length: pods }, () => 0), events: [], seed: 7 });
        const firstKey = activeKey(sim.load())!.material.fingerprint;
        // The operator is down (no reconciles) for several periods, then comes back.
        sim.now += periods * pol.intervalMs + 1;
        sim.nextReconcileAt = sim.now;
        sim.apply({ t: 'reconcile' });
        const promotions = sim.events.filter((e) => e.reason === 'KeyPromoted');
        expect(promotions).toHaveLength(1);
        expect(activeKey(sim.load())!.material.fingerprint).not.toBe(firstKey);
        expect(sim.load().nextRotationTime).toBe(promotions[0]!.at + pol.intervalMs);
      }),
      { numRuns: 100 },
    );
  });
});

describe('the Immediate policy (the baseline other systems use)', () => {
  it('breaks resumption when a pod lags: a Ready pod cannot decrypt the new key others already use', () => {
    const sim = new Simulation({ policy: policy({ promotionPolicy: 'Immediate', intervalMs: MIN, ticketLifetimeMs: MIN, promotionTimeoutMs: 10 * SEC }), random: seededRandom(1), start: T0, recordDecryptViolations: true });
    sim.apply({ t: 'addPod', reachable: true });
    sim.apply({ t: 'addPod', reachable: true });
    sim.apply({ t: 'setReady', i: 0 });
    sim.apply({ t: 'setReady', i: 1 });
    sim.apply({ t: 'setReachable', i: 1, reachable: false });
    expect(sim.decryptViolations).toEqual([]);
    sim.apply({ t: 'advance', ms: MIN + 1 });
    expect(sim.decryptViolations.length).toBeGreaterThan(0);
    expect(sim.decryptViolations[0]).toMatch(/p1 cannot decrypt tickets p0 encrypts/);
  });

  it('violates the decrypt invariant for every schedule in which a Ready pod lags through a rotation, where AllPodsAcknowledged does not', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 2, max: 5 }), fc.nat(), fc.integer(), (pol, n, lagIndex, seed) => {
        const run = (promotionPolicy: RotationPolicy['promotionPolicy']) => {
          const sim = new Simulation({ policy: { ...pol, promotionPolicy }, random: seededRandom(seed), start: T0, fanoutSeed: seed, recordDecryptViolations: true });
          for (let i = 0; i < n; i++) sim.apply({ t: 'addPod', reachable: true });
          for (let i = 0; i < n; i++) sim.apply({ t: 'setReady', i });
          sim.apply({ t: 'setReachable', i: lagIndex % n, reachable: false });
          sim.apply({ t: 'advance', ms: pol.intervalMs + 1 });
          return sim.decryptViolations;
        };
        expect(run('Immediate').length).toBeGreaterThan(0);
        expect(run('AllPodsAcknowledged')).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});

describe('simulator sanity', () => {
  it('detects a violation when a Ready pod holds no ring', () => {
    const sim = new Simulation({ policy: policy(), random: seededRandom(1), start: T0 });
    sim.apply({ t: 'addPod', reachable: true });
    sim.pods[0]!.ready = true;
    sim.pods[0]!.ring = undefined;
    expect(() => sim.observeInstant('test')).toThrow(/holds no ring/);
  });

  it('runs a long healthy schedule with real rotations', () => {
    const sim = new Simulation({ policy: policy({ intervalMs: MIN, ticketLifetimeMs: 2 * MIN, promotionTimeoutMs: 10 * SEC }), random: seededRandom(2), start: T0 });
    for (let i = 0; i < 3; i++) sim.apply({ t: 'addPod', reachable: true });
    for (let i = 0; i < 3; i++) sim.apply({ t: 'setReady', i });
    sim.apply({ t: 'advance', ms: HOUR });
    const reasons = sim.events.map((e) => e.reason);
    expect(reasons.filter((r) => r === 'KeyPromoted')).toHaveLength(60);
    expect(reasons.filter((r) => r === 'KeyDestroyed').length).toBeGreaterThanOrEqual(57);
    expect(sim.load().keys.length).toBeLessThanOrEqual(4);
  });
});
