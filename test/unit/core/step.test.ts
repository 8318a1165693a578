import { describe, expect, it } from '@jest/globals';
import type { Action, StepResult } from '../../../src/core/actions.ts';
import { PUSH_RETRY_BASE_MS, PUSH_RETRY_MAX_MS } from '../../../src/core/backoff.ts';
import type { RandomSource } from '../../../src/core/key-material.ts';
import type { PodObservation } from '../../../src/core/observations.ts';
import type { RotationPolicy } from '../../../src/core/policy.ts';
import { MAX_RING_KEYS, ringFingerprintOf } from '../../../src/core/ring.ts';
import { activeKey, initialState, ringMaterial, stagedKey, type RotationState } from '../../../src/core/state.ts';
import { InvalidStateError, MAX_REQUEUE_MS, step } from '../../../src/core/step.ts';
import { seededRandom } from '../../fixtures/keys.ts';
import { HOUR, MIN, SEC, T0, ofKind, one, pod, policy } from './support.ts';

const ringFp = (s: RotationState): string => ringFingerprintOf(ringMaterial(s));

/** Pods that hold the state's ring. */
function holding(s: RotationState, ...pods: PodObservation[]): PodObservation[] {
  return pods.map((p) => ({ ...p, acked: { generation: s.generation, ringFingerprint: ringFp(s) }, error: undefined }));
}

function kinds(actions: readonly Action[]): string[] {
  return actions.map((a) => (a.kind === 'event' ? `event:${a.reason}` : a.kind));
}

function condition(r: StepResult, type: 'Ready' | 'Progressing' | 'Degraded') {
  return one(r.actions, 'conditions').conditions.find((c) => c.type === type)!;
}

/** A small driver: keeps a random source and the policy, and steps. */
function driver(pol: RotationPolicy = policy(), seed = 1) {
  const random: RandomSource = seededRandom(seed);
  return (state: RotationState, pods: PodObservation[], now: number, p: RotationPolicy = pol) =>
    step(state, { pods }, p, now, { random });
}

/** A Stable state with the first key installed on the given pods. */
function stable(pol = policy(), names = ['a', 'b', 'c']) {
  const run = driver(pol);
  const first = run(initialState(), names.map((n) => pod(n)), T0);
  const pods = holding(first.state, ...names.map((n) => pod(n)));
  return { run, state: first.state, pods };
}

describe('step: the first ring', () => {
  it('creates one active key at generation 1, persists it, then pushes it to every non-terminating pod', () => {
    const run = driver();
    const r = run(initialState(), [pod('a'), pod('b', { ready: false }), pod('c', { terminating: true })], T0);
    expect(kinds(r.actions)).toEqual(['persist', 'push', 'event:KeyCreated', 'conditions', 'requeue']);
    expect(r.state.generation).toBe(1);
    expect(r.state.phase).toBe('Stable');
    expect(r.state.keys).toHaveLength(1);
    expect(r.state.keys[0]).toMatchObject({ state: 'active', createdAt: T0, promotedAt: T0 });
    expect(r.state.lastRotationTime).toBe(T0);
    expect(r.state.nextRotationTime).toBe(T0 + 12 * HOUR);
    expect(one(r.actions, 'persist').state).toBe(r.state);
    const push = one(r.actions, 'push');
    expect(push).toMatchObject({ generation: 1, pods: ['a', 'b'], revoke: false, ringFingerprint: ringFp(r.state) });
    expect(push.ring.map((k) => k.state)).toEqual(['active']);
  });

  it('starts above any generation a pod already reports (a lost Secret must not roll agents back)', () => {
    const r = driver()(initialState(), [pod('a', { acked: { generation: 41, ringFingerprint: '0123456789abcdef' } })], T0);
    expect(r.state.generation).toBe(42);
  });

  it('treats rotate-now and revoke annotations present at creation as satisfied by the first key', () => {
    const run = driver();
    const pol = policy({ rotateNowToken: 'x', revokeToken: 'y' });
    const r = run(initialState(), [pod('a')], T0, pol);
    expect(r.state).toMatchObject({ handledRotateNowToken: 'x', handledRevokeToken: 'y', phase: 'Stable' });
    const again = run(r.state, holding(r.state, pod('a')), T0 + SEC, pol);
    expect(again.state.phase).toBe('Stable');
    expect(ofKind(again.actions, 'push')).toEqual([]);
  });

  it('creates the ring even with no pods at all, and says no pod holds it (not Ready)', () => {
    const r = driver()(initialState(), [], T0);
    expect(r.state.keys).toHaveLength(1);
    expect(ofKind(r.actions, 'push')).toEqual([]);
    expect(condition(r, 'Ready')).toMatchObject({ status: 'False', reason: 'NoPods' });
  });

  it('adopts a generation from an earlier life only up to the margin; a pod claiming more is its own error', () => {
    const r = driver()(
      initialState(),
      [pod('a', { acked: { generation: 41, ringFingerprint: '0123456789abcdef' } }), pod('b', { acked: { generation: 2 ** 53 - 1, ringFingerprint: '0123456789abcdef' } })],
      T0,
    );
    expect(r.state.generation).toBe(42);
    expect(one(r.actions, 'push').pods).toEqual(['a', 'b']);
    expect(condition(r, 'Degraded')).toMatchObject({ status: 'True', reason: 'GenerationOutOfRange' });
    expect(condition(r, 'Degraded').message).toContain('b: agent reports generation 9007199254740991');
  });

  it('regenerates a lost Secret above the recorded generation, in phase Promoting until every ready pod holds it', () => {
    const run = driver();
    const lost = { reason: 'SecretDeleted' as const, detail: 'the owned Secret x-ticket-keys is gone, though generation 12 was issued' };
    const old = { generation: 12, ringFingerprint: '0123456789abcdef' };
    const r = step(initialState(), { pods: [pod('a', { acked: old }), pod('b', { acked: old })], issuedGeneration: 12, secretLoss: lost }, policy(), T0, { random: seededRandom(3) });
    expect(r.state).toMatchObject({ generation: 13, phase: 'Promoting', regeneratedAt: T0, regeneratedBecause: 'SecretDeleted' });
    expect(kinds(r.actions)).toEqual(['persist', 'push', 'event:SecretRegenerated', 'conditions', 'requeue']);
    expect(condition(r, 'Degraded')).toMatchObject({ status: 'True', reason: 'SecretRegenerated' });
    // One pod holds it: still Promoting. Both: Stable, and the regeneration note is cleared.
    const half = run(r.state, [...holding(r.state, pod('a')), pod('b', { acked: old })], T0 + SEC);
    expect(half.state.phase).toBe('Promoting');
    const done = run(half.state, holding(r.state, pod('a'), pod('b')), T0 + 2 * SEC);
    expect(done.state.phase).toBe('Stable');
    expect(done.state.regeneratedAt).toBeUndefined();
    expect(condition(done, 'Degraded')).toMatchObject({ status: 'False' });
  });
});

describe('step: steady state', () => {
  it('does nothing when every pod holds the ring, and requeues for the next rotation (polling at least every 5m)', () => {
    const { run, state, pods } = stable(policy({ intervalMs: 2 * MIN, promotionTimeoutMs: MIN }));
    const r = run(state, pods, T0 + 30 * SEC);
    expect(kinds(r.actions)).toEqual(['conditions', 'requeue']);
    expect(r.state).toEqual(state);
    expect(one(r.actions, 'requeue').afterMs).toBe(90 * SEC);
    expect(condition(r, 'Ready')).toMatchObject({ status: 'True', reason: 'Converged' });
    expect(condition(r, 'Progressing')).toMatchObject({ status: 'False', reason: 'Idle' });
    expect(condition(r, 'Degraded')).toMatchObject({ status: 'False' });
    const { run: run2, state: s2, pods: p2 } = stable();
    expect(one(run2(s2, p2, T0 + SEC).actions, 'requeue').afterMs).toBe(MAX_REQUEUE_MS);
  });

  it('is idempotent: the same inputs ask for the same push and persist nothing new', () => {
    const { run, state } = stable();
    const lagging = [pod('a'), pod('b')];
    const r1 = run(state, lagging, T0 + SEC);
    const r2 = run(r1.state, lagging, T0 + SEC);
    expect(one(r1.actions, 'push').pods).toEqual(['a', 'b']);
    expect(one(r2.actions, 'push').pods).toEqual(['a', 'b']);
    expect(ofKind(r2.actions, 'persist')).toEqual([]);
  });

  it('pushes the current ring to newcomers and drifted pods, including not-Ready ones, never to terminating ones', () => {
    const { run, state, pods } = stable();
    const r = run(
      state,
      [
        ...pods,
        pod('new', { ready: false }),
        pod('restarted', { acked: { generation: 0, ringFingerprint: '' } }),
        pod('drifted', { acked: { generation: state.generation, ringFingerprint: 'ffffffffffffffff' } }),
        pod('gone', { terminating: true }),
      ],
      T0 + SEC,
    );
    expect(one(r.actions, 'push').pods).toEqual(['drifted', 'new', 'restarted']);
    expect(r.state.generation).toBe(state.generation);
    expect(condition(r, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsNotConverged' });
    expect(condition(r, 'Ready').message).toContain('drifted, restarted');
    expect(condition(r, 'Progressing')).toMatchObject({ status: 'True', reason: 'Converging' });
    expect(one(r.actions, 'conditions').pods).toEqual({ total: 6, converged: 3 });
  });

  it("refuses a generation it never issued: that pod's error, no re-issue, the other pods untouched", () => {
    const { run, state, pods } = stable();
    const r = run(state, [...pods, pod('x', { acked: { generation: 2 ** 53 - 1, ringFingerprint: 'aaaaaaaaaaaaaaaa' } })], T0 + SEC);
    expect(r.state.generation).toBe(state.generation);
    // Only the retry backoff for x is persisted: the ring is untouched.
    expect(ofKind(r.actions, 'persist').map((a) => a.state.keys.map((k) => k.material.fingerprint))).toEqual([state.keys.map((k) => k.material.fingerprint)]);
    expect(one(r.actions, 'push')).toMatchObject({ pods: ['x'], generation: state.generation });
    expect(condition(r, 'Degraded')).toMatchObject({ status: 'True', reason: 'GenerationOutOfRange' });
    expect(condition(r, 'Degraded').message).toContain('x: agent reports generation 9007199254740991, above the highest generation issued (1)');
    expect(one(r.actions, 'conditions').pods).toEqual({ total: 4, converged: 3 });
    // A rotation still stages for everyone; the liar does not stop it (it only blocks as a laggard while Ready).
    const staged = run(state, [...pods, pod('x', { ready: false, acked: { generation: 99, ringFingerprint: 'aaaaaaaaaaaaaaaa' } })], T0 + 12 * HOUR);
    expect(staged.state).toMatchObject({ phase: 'Staging', generation: state.generation + 1 });
  });

  it('never mutates its input and never zeroes keys itself', () => {
    const { run, state } = stable(policy({ revokeToken: undefined }));
    const snapshot = JSON.stringify(state);
    const revoked = run(state, [], T0 + SEC, policy({ revokeToken: 'now' }));
    expect(JSON.stringify(state)).toBe(snapshot);
    expect(state.keys.every((k) => !k.material.destroyed)).toBe(true);
    expect(one(revoked.actions, 'destroyKeys').keys.map((k) => k.fingerprint)).toEqual(state.keys.map((k) => k.material.fingerprint));
  });

  it('refuses an inconsistent state', () => {
    const { state } = stable();
    const broken: RotationState = { ...state, keys: [...state.keys, { ...state.keys[0]! }] };
    expect(() => step(broken, { pods: [] }, policy(), T0)).toThrow(InvalidStateError);
    expect(() => step({ ...state, phase: 'Staging' }, { pods: [] }, policy(), T0)).toThrow(/phase Staging/);
  });

  it('floors a fractional now so timestamps stay integers', () => {
    const r = driver()(initialState(), [], T0 + 0.75);
    expect(r.state.lastRotationTime).toBe(T0);
  });
});

describe('step: stage, gate, promote (AllPodsAcknowledged)', () => {
  const due = T0 + 12 * HOUR;

  it('stages K(n+1) at nextRotationTime: persist, then push [K(n) active, K(n+1) staged]', () => {
    const { run, state, pods } = stable();
    expect(ofKind(run(state, pods, due - 1).actions, 'push')).toEqual([]);
    const r = run(state, pods, due);
    expect(kinds(r.actions)).toEqual(['persist', 'push', 'event:KeyStaged', 'conditions', 'requeue']);
    expect(r.state.phase).toBe('Staging');
    expect(r.state.generation).toBe(state.generation + 1);
    expect(r.state.stagedAt).toBe(due);
    expect(r.state.keys.map((k) => k.state)).toEqual(['active', 'staged']);
    expect(activeKey(r.state)!.material).toBe(activeKey(state)!.material);
    const push = one(r.actions, 'push');
    expect(push.ring.map((k) => [k.material.fingerprint, k.state])).toEqual(r.state.keys.map((k) => [k.material.fingerprint, k.state]));
    expect(push.pods).toEqual(['a', 'b', 'c']);
    expect(condition(r, 'Progressing')).toMatchObject({ status: 'True', reason: 'Staging' });
    expect(one(r.actions, 'requeue').afterMs).toBe(5 * MIN); // the promotion timeout
  });

  it('keeps K(n) active while a Ready pod has not acknowledged; not-Ready and terminating pods do not block', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, due).state;
    const [a, b, c] = pods;
    const r = run(staged, [...holding(staged, a!), b!, { ...c!, ready: false }, pod('t', { terminating: true })], due + SEC);
    expect(r.state.phase).toBe('Staging');
    expect(activeKey(r.state)!.material).toBe(activeKey(state)!.material);
    expect(one(r.actions, 'push').pods).toEqual(['b', 'c']);
    expect(one(r.actions, 'conditions').laggards).toEqual(['b']);
    expect(condition(r, 'Progressing').message).toContain('1/2 ready pods acknowledged; waiting for: b');
    const promoted = run(staged, [...holding(staged, a!, b!), { ...c!, ready: false }, pod('t', { terminating: true })], due + 2 * SEC);
    expect(promoted.state.phase).toBe('Promoting');
  });

  it('promotes once every Ready pod acknowledged: [K(n+1) active, K(n) retired] under a new generation', () => {
    const pol = policy({ ticketLifetimeMs: 3 * HOUR, promotionTimeoutMs: 10 * MIN });
    const { run, state, pods } = stable(pol);
    const staged = run(state, pods, due).state;
    const now = due + 3 * SEC;
    const r = run(staged, holding(staged, ...pods), now);
    expect(kinds(r.actions)).toEqual(['persist', 'push', 'event:KeyPromoted', 'event:KeyRetired', 'conditions', 'requeue']);
    expect(r.state.generation).toBe(staged.generation + 1);
    expect(r.state.phase).toBe('Promoting');
    expect(r.state.keys).toMatchObject([
      { material: stagedKey(staged)!.material, state: 'active', promotedAt: now },
      { material: activeKey(staged)!.material, state: 'retired', retiredAt: now, expiresAt: now + 3 * HOUR + 10 * MIN },
    ]);
    expect(r.state).toMatchObject({ lastRotationTime: now, nextRotationTime: now + 12 * HOUR });
    expect(r.state.stagedAt).toBeUndefined();
    expect(one(r.actions, 'push').ring.map((k) => k.state)).toEqual(['active', 'retired']);
  });

  it('returns to Stable once every Ready pod holds the promoted ring', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, due).state;
    const promoting = run(staged, holding(staged, ...pods), due + SEC).state;
    const lagging = run(promoting, [...holding(promoting, pods[0]!), pods[1]!], due + 2 * SEC);
    expect(lagging.state.phase).toBe('Promoting');
    const done = run(promoting, holding(promoting, ...pods), due + 2 * SEC);
    expect(done.state.phase).toBe('Stable');
    expect(kinds(done.actions)).toEqual(['persist', 'event:RotationComplete', 'conditions', 'requeue']);
    expect(done.state.generation).toBe(promoting.generation);
    expect(condition(done, 'Ready')).toMatchObject({ status: 'True' });
  });

  it('never promotes a staged key that no agent acknowledged (no pods, none Ready, or none reachable)', () => {
    const { run, state, pods } = stable();
    const staged = run(state, [], due).state;
    expect(run(staged, [], due + 1).state.phase).toBe('Staging');
    expect(run(staged, [pod('x', { ready: false })], due + 1).state.phase).toBe('Staging');
    // Every agent unreachable, each last seen holding the staged ring: no live acknowledgement.
    const stale = holding(staged, ...pods).map((p) => ({ ...p, ackStale: true, error: 'agent timeout' }));
    const r = run(staged, stale, due + 1);
    expect(r.state.phase).toBe('Staging');
    expect(one(r.actions, 'conditions').pods).toEqual({ total: 3, converged: 0 });
    expect(condition(r, 'Ready').status).toBe('False');
    // A non-Ready pod that holds it is enough when no Ready pod lags (it was seen acknowledging).
    expect(run(staged, holding(staged, pod('x', { ready: false })), due + 1).state.phase).toBe('Promoting');
  });

  it('counts a real earlier acknowledgement of an unreachable pod at the gate, but never reports it as converged', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, due).state;
    const obs = [...holding(staged, pods[0]!, pods[1]!), { ...holding(staged, pods[2]!)[0]!, ackStale: true, error: 'agent timeout' }];
    const r = run(staged, obs, due + 1);
    expect(r.state.phase).toBe('Promoting');
    // Promoting → Stable needs c to hold the promoted ring: its stale ack is of the staged one.
    const promoted = run(r.state, [...holding(r.state, pods[0]!, pods[1]!), obs[2]!], due + 2);
    expect(promoted.state.phase).toBe('Promoting');
    expect(condition(promoted, 'Ready').message).toContain('waiting for: c');
    expect(one(promoted.actions, 'conditions').pods).toEqual({ total: 3, converged: 2 });
    // Stable with c unreachable but last seen holding the current ring: not Ready (unverified).
    const done = run(promoted.state, [...holding(r.state, pods[0]!, pods[1]!), { ...holding(r.state, pods[2]!)[0]!, ackStale: true, error: 'agent timeout' }], due + 3);
    expect(done.state.phase).toBe('Stable');
    expect(condition(done, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsUnreachable' });
    expect(condition(done, 'Ready').message).toContain('unreachable now (last seen holding it): c');
    expect(one(done.actions, 'conditions').pods).toEqual({ total: 3, converged: 2 });
  });

  it('after promotionTimeout raises Degraded naming the laggards; the key stays staged; one Warning event', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, due).state;
    const obs = [...holding(staged, pods[0]!), { ...pods[1]!, error: 'connect ECONNREFUSED' }, pods[2]!];
    const before = run(staged, obs, due + 5 * MIN - 1);
    expect(condition(before, 'Degraded').reason).toBe('PushFailed');
    const r = run(before.state, obs, due + 5 * MIN);
    expect(r.state.phase).toBe('Staging');
    expect(r.state.phaseTimedOutAt).toBe(due + 5 * MIN);
    expect(ofKind(r.actions, 'event').map((e) => [e.type, e.reason])).toEqual([['Warning', 'PromotionTimedOut']]);
    const degraded = condition(r, 'Degraded');
    expect(degraded).toMatchObject({ status: 'True', reason: 'PromotionTimedOut' });
    expect(degraded.message).toContain('by: b, c');
    expect(degraded.message).toContain('b: connect ECONNREFUSED');
    const later = run(r.state, obs, due + 6 * MIN);
    expect(ofKind(later.actions, 'event')).toEqual([]);
    expect(condition(later, 'Degraded').reason).toBe('PromotionTimedOut');
    // …and it still promotes as soon as the laggards catch up, clearing Degraded.
    const caughtUp = run(later.state, holding(later.state, ...pods), due + 7 * MIN);
    expect(caughtUp.state.phase).toBe('Promoting');
    expect(caughtUp.state.phaseTimedOutAt).toBeUndefined();
    expect(condition(caughtUp, 'Degraded').status).toBe('False');
  });

  it('retries failing pods with exponential backoff while others are pushed at once', () => {
    const { run, state, pods } = stable();
    let s = run(state, pods, due).state;
    const failing = (st: RotationState, extra: PodObservation[] = []) => [
      ...holding(st, pods[0]!, pods[1]!),
      { ...pods[2]!, error: 'timeout' },
      ...extra,
    ];
    let now = due + SEC;
    const delays: number[] = [];
    let r = run(s, failing(s), now);
    expect(one(r.actions, 'push').pods).toEqual(['c']);
    for (let i = 0; i < 9; i++) {
      s = r.state;
      const wait = s.nextPushRetryAt! - now;
      delays.push(wait);
      expect(ofKind(run(s, failing(s), now + wait - 1).actions, 'push')).toEqual([]);
      const newcomer = run(s, failing(s, [pod('new', { ready: false })]), now + wait - 1);
      expect(one(newcomer.actions, 'push').pods).toEqual(['new']);
      expect(one(run(s, failing(s), now + wait - 1).actions, 'requeue').afterMs).toBe(1);
      now += wait;
      r = run(s, failing(s), now);
      expect(one(r.actions, 'push').pods).toEqual(['c']);
    }
    expect(delays.slice(0, 5)).toEqual([1, 2, 4, 8, 16].map((n) => n * PUSH_RETRY_BASE_MS));
    expect(delays.at(-1)).toBe(PUSH_RETRY_MAX_MS);
    expect(r.state.pushAttempts).toBe(10);
    const healed = run(r.state, holding(r.state, ...pods), now + 1);
    expect(healed.state.phase).toBe('Promoting');
    expect(healed.state.pushAttempts).toBe(0);
  });
});

describe('step: retire and destroy', () => {
  const pol = policy({ intervalMs: 10 * MIN, ticketLifetimeMs: 20 * MIN, promotionTimeoutMs: MIN });

  function rotated() {
    const { run, state, pods } = stable(pol);
    const staged = run(state, pods, T0 + 10 * MIN).state;
    const promoting = run(staged, holding(staged, ...pods), T0 + 10 * MIN + SEC).state;
    const stableAgain = run(promoting, holding(promoting, ...pods), T0 + 10 * MIN + 2 * SEC).state;
    return { run, pods, state: stableAgain, retiredAt: T0 + 10 * MIN + SEC };
  }

  it('keeps a retired key until retiredAt + ticketLifetime + promotionTimeout, then drops it under a new generation', () => {
    const { run, pods, state, retiredAt } = rotated();
    const expiresAt = retiredAt + 21 * MIN;
    expect(state.keys[1]!.expiresAt).toBe(expiresAt);
    // Suspended, so the scheduled rotations do not interfere with what is measured here.
    const paused = { ...pol, suspend: true };
    const before = run(state, holding(state, ...pods), expiresAt - 1, paused);
    expect(before.state.keys).toHaveLength(2);
    expect(one(before.actions, 'requeue').afterMs).toBe(1);
    const r = run(state, holding(state, ...pods), expiresAt, paused);
    expect(kinds(r.actions)).toEqual(['persist', 'push', 'destroyKeys', 'event:KeyDestroyed', 'conditions', 'requeue']);
    expect(r.state.keys.map((k) => k.state)).toEqual(['active']);
    expect(r.state.generation).toBe(state.generation + 1);
    expect(one(r.actions, 'destroyKeys').keys.map((k) => k.fingerprint)).toEqual([state.keys[1]!.material.fingerprint]);
  });

  it('does not drop the key a Ready laggard still encrypts with while promoting, and extends its life when promotion ends late', () => {
    const { run, state, pods } = stable(pol);
    const staged = run(state, pods, T0 + 10 * MIN).state;
    const promotedAt = T0 + 10 * MIN + SEC;
    const promoting = run(staged, holding(staged, ...pods), promotedAt).state;
    const old = promoting.keys[1]!;
    const stuck = [...holding(promoting, pods[0]!, pods[1]!), holding(staged, pods[2]!)[0]!];
    const late = old.expiresAt! + HOUR;
    const r = run(promoting, stuck, late);
    expect(r.state.keys.map((k) => k.material)).toContain(old.material);
    expect(ofKind(r.actions, 'destroyKeys')).toEqual([]);
    expect(ofKind(r.actions, 'event').map((e) => e.reason)).toContain('ConvergenceTimedOut');
    // Suspended so completing does not immediately start the (overdue) next rotation.
    const done = run(r.state, holding(r.state, ...pods), late + SEC, { ...pol, suspend: true });
    expect(done.state.phase).toBe('Stable');
    expect(done.state.keys.find((k) => k.material === old.material)!.expiresAt).toBe(late + SEC + pol.ticketLifetimeMs);
  });

  it('expires keys while suspended', () => {
    const { run, pods, state, retiredAt } = rotated();
    const r = run(state, holding(state, ...pods), retiredAt + 22 * MIN, { ...pol, suspend: true });
    expect(r.state.keys).toHaveLength(1);
    expect(r.state.phase).toBe('Stable');
  });

  it('keeps retired keys longer when ticketLifetime grows, never shorter when it shrinks', () => {
    const { run, pods, state, retiredAt } = rotated();
    const longer = run(state, holding(state, ...pods), retiredAt + MIN, { ...pol, ticketLifetimeMs: HOUR });
    expect(longer.state.keys[1]!.expiresAt).toBe(retiredAt + HOUR + MIN);
    expect(kinds(longer.actions)[0]).toBe('persist');
    const shorter = run(longer.state, holding(longer.state, ...pods), retiredAt + 2 * MIN, { ...pol, ticketLifetimeMs: MIN });
    expect(shorter.state.keys[1]!.expiresAt).toBe(retiredAt + HOUR + MIN);
  });
});

describe('step: Immediate policy (the baseline)', () => {
  const pol = policy({ promotionPolicy: 'Immediate' });

  it('puts the new key first at once: [K(n+1) active, K(n) retired]', () => {
    const { run, state, pods } = stable(pol);
    const r = run(state, pods, T0 + 12 * HOUR);
    expect(r.state.phase).toBe('Promoting');
    expect(r.state.keys.map((k) => k.state)).toEqual(['active', 'retired']);
    expect(r.state.keys[1]!.material).toBe(activeKey(state)!.material);
    expect(kinds(r.actions)).toEqual(['persist', 'push', 'event:KeyPromoted', 'event:KeyRetired', 'conditions', 'requeue']);
  });

  it('keeps rotating on schedule even while a pod lags', () => {
    const { run, state, pods } = stable(pol);
    const first = run(state, pods, T0 + 12 * HOUR).state;
    const second = run(first, pods, T0 + 24 * HOUR + 1).state;
    expect(second.keys.map((k) => k.state)).toEqual(['active', 'retired', 'retired']);
  });

  it('skips the gate for a key staged before the policy changed', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, T0 + 12 * HOUR).state;
    const r = run(staged, pods, T0 + 12 * HOUR + 1, pol);
    expect(r.state.phase).toBe('Promoting');
    expect(activeKey(r.state)!.material).toBe(stagedKey(staged)!.material);
  });
});

describe('step: schedule, rotate-now and suspend', () => {
  it('rotates once after missed periods and schedules the next one an interval after the promotion', () => {
    const { run, state, pods } = stable();
    const late = T0 + 12 * HOUR * 5 + 7 * MIN;
    const staged = run(state, pods, late).state;
    const promoted = run(staged, holding(staged, ...pods), late + SEC).state;
    const done = run(promoted, holding(promoted, ...pods), late + 2 * SEC);
    expect(done.state.nextRotationTime).toBe(late + SEC + 12 * HOUR);
    expect(ofKind(done.actions, 'push')).toEqual([]);
    expect(done.state.phase).toBe('Stable');
  });

  it('takes a shorter interval into account from the last rotation', () => {
    const { run, state, pods } = stable();
    const r = run(state, pods, T0 + 20 * SEC, policy({ intervalMs: 10 * SEC, promotionTimeoutMs: 5 * SEC }));
    expect(r.state.phase).toBe('Staging');
  });

  it('rotates on a new rotate-now value, once per value', () => {
    const { run, state, pods } = stable();
    const pol = policy({ rotateNowToken: '2026-11-25T12:30:00Z' });
    const r = run(state, pods, T0 + HOUR, pol);
    expect(r.state.phase).toBe('Staging');
    expect(r.state.handledRotateNowToken).toBe('2026-11-25T12:30:00Z');
    const promoting = run(r.state, holding(r.state, ...pods), T0 + HOUR + 1, pol).state;
    const stableAgain = run(promoting, holding(promoting, ...pods), T0 + HOUR + 2, pol);
    expect(stableAgain.state.phase).toBe('Stable');
  });

  it('keeps a rotate-now that arrives mid-rotation and acts on it once Stable', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, T0 + 12 * HOUR).state;
    const pol = policy({ rotateNowToken: 'again' });
    const promoting = run(staged, holding(staged, ...pods), T0 + 12 * HOUR + 1, pol).state;
    expect(promoting.handledRotateNowToken).toBeUndefined();
    const r = run(promoting, holding(promoting, ...pods), T0 + 12 * HOUR + 2, pol);
    expect(r.state.phase).toBe('Staging');
    expect(r.state.handledRotateNowToken).toBe('again');
  });

  it('does not rotate while suspended, still converges pods, and rotates once on resume', () => {
    const { run, state, pods } = stable();
    const suspended = policy({ suspend: true, rotateNowToken: 'please' });
    const r = run(state, [...pods, pod('new')], T0 + 36 * HOUR, suspended);
    expect(r.state.phase).toBe('Stable');
    expect(one(r.actions, 'push').pods).toEqual(['new']);
    const quiet = run(state, pods, T0 + 36 * HOUR, suspended);
    expect(condition(quiet, 'Progressing')).toMatchObject({ status: 'False', reason: 'Suspended' });
    expect(condition(quiet, 'Progressing').message).toContain('rotate-now request waits');
    expect(one(quiet.actions, 'requeue').afterMs).toBe(MAX_REQUEUE_MS);
    const resumed = run(state, pods, T0 + 36 * HOUR, policy({ rotateNowToken: 'please' }));
    expect(resumed.state.phase).toBe('Staging');
    expect(resumed.state.keys.filter((k) => k.state === 'staged')).toHaveLength(1);
  });

  it('finishes a rotation already staged when suspended', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, T0 + 12 * HOUR).state;
    const r = run(staged, holding(staged, ...pods), T0 + 12 * HOUR + 1, policy({ suspend: true }));
    expect(r.state.phase).toBe('Promoting');
  });
});

describe('step: revoke', () => {
  it('replaces the ring by one brand-new key, forced over every pod with revoke=true, flushing session caches', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, T0 + 12 * HOUR).state;
    const pol = policy({ revokeToken: 'incident-42', suspend: true });
    const now = T0 + 12 * HOUR + MIN;
    const r = run(staged, [...holding(staged, ...pods), pod('sleepy', { ready: false }), pod('t', { terminating: true })], now, pol);
    expect(kinds(r.actions)).toEqual(['persist', 'push', 'flushSessionCache', 'destroyKeys', 'event:KeysRevoked', 'conditions', 'requeue']);
    expect(r.state.phase).toBe('Revoking');
    expect(r.state.keys).toHaveLength(1);
    expect(r.state.keys[0]).toMatchObject({ state: 'active', createdAt: now });
    expect(staged.keys.map((k) => k.material)).not.toContain(r.state.keys[0]!.material);
    expect(r.state.generation).toBe(staged.generation + 1);
    expect(r.state.stagedAt).toBeUndefined();
    const push = one(r.actions, 'push');
    expect(push).toMatchObject({ revoke: true, pods: ['a', 'b', 'c', 'sleepy'] });
    expect(one(r.actions, 'flushSessionCache').pods).toEqual(['a', 'b', 'c', 'sleepy']);
    expect(one(r.actions, 'destroyKeys').keys.map((k) => k.fingerprint).sort()).toEqual(staged.keys.map((k) => k.material.fingerprint).sort());
    const ev = ofKind(r.actions, 'event')[0]!;
    expect(ev.type).toBe('Warning');
    expect(r.state.handledRevokeToken).toBe('incident-42');
  });

  it('keeps forcing revoke pushes (and flushes) until every Ready pod holds the new ring, then is Stable', () => {
    const { run, state, pods } = stable();
    const pol = policy({ revokeToken: 'r1' });
    const revoking = run(state, pods, T0 + MIN, pol).state;
    const partial = run(revoking, [...holding(revoking, pods[0]!), pods[1]!, pods[2]!], T0 + MIN + 1, pol);
    expect(partial.state.phase).toBe('Revoking');
    expect(one(partial.actions, 'push')).toMatchObject({ revoke: true, pods: ['b', 'c'] });
    expect(one(partial.actions, 'flushSessionCache').pods).toEqual(['b', 'c']);
    const done = run(revoking, holding(revoking, ...pods), T0 + MIN + 2, pol);
    expect(done.state.phase).toBe('Stable');
    expect(ofKind(done.actions, 'event').map((e) => e.reason)).toEqual(['RevokeComplete']);
    const again = run(done.state, holding(done.state, ...pods), T0 + MIN + 3, pol);
    expect(again.state).toEqual(done.state);
  });

  it('issues the revoke ring above every generation a pod reported within the bound; a claim above it lifts nothing', () => {
    const { run, state, pods } = stable();
    const staged = run(state, pods, T0 + 12 * HOUR).state;
    const reports = [
      ...holding(staged, pods[0]!),
      { ...pods[1]!, acked: { generation: state.generation, ringFingerprint: ringFp(state) } },
      pod('liar', { acked: { generation: 2 ** 53 - 1, ringFingerprint: 'aaaaaaaaaaaaaaaa' } }),
    ];
    const r = run(staged, reports, T0 + 12 * HOUR + MIN, policy({ revokeToken: 'incident' }));
    const push = one(r.actions, 'push');
    expect(push.revoke).toBe(true);
    expect(push.generation).toBe(staged.generation + 1);
    for (const p of reports.filter((x) => x.name !== 'liar')) expect(push.generation).toBeGreaterThan(p.acked!.generation);
    // The liar is pushed to as well: its agent refuses the older generation (409), that pod's error.
    expect(push.pods).toContain('liar');
  });

  it('does not flush session caches when flushOnRevoke is false', () => {
    const { run, state, pods } = stable();
    const r = run(state, pods, T0 + MIN, policy({ revokeToken: 'r', flushOnRevoke: false }));
    expect(ofKind(r.actions, 'flushSessionCache')).toEqual([]);
    expect(one(r.actions, 'push').revoke).toBe(true);
  });
});

describe('step: the ring stays bounded', () => {
  it('defers rotation while the ring is full and rotates once a retired key expires', () => {
    // 10s interval, 1h lifetime: far more retired keys than a 16-key ring can hold.
    const pol = policy({ intervalMs: 10 * SEC, ticketLifetimeMs: HOUR, promotionTimeoutMs: 5 * SEC });
    const run = driver(pol);
    const names = ['a', 'b'];
    let s = run(initialState(), names.map((n) => pod(n)), T0).state;
    let now = T0;
    let maxLen = 0;
    let deferred = 0;
    for (let i = 0; i < 200; i++) {
      now += 5 * SEC;
      const r = run(s, holding(s, ...names.map((n) => pod(n))), now);
      s = r.state;
      maxLen = Math.max(maxLen, s.keys.length);
      if (condition(r, 'Progressing').reason === 'RotationDeferred') {
        deferred++;
        const expiry = Math.min(...s.keys.filter((k) => k.state === 'retired').map((k) => k.expiresAt!));
        expect(one(r.actions, 'requeue').afterMs).toBe(Math.min(expiry - now, MAX_REQUEUE_MS));
      }
    }
    expect(maxLen).toBe(MAX_RING_KEYS);
    expect(deferred).toBeGreaterThan(0);
    expect(s.keys.filter((k) => k.state === 'retired').every((k) => k.expiresAt! - k.retiredAt! >= HOUR + 5 * SEC)).toBe(true);
  });
});

describe('step: what actions reveal', () => {
  it('never contains key bytes when serialised (persist, push and destroy actions show fingerprints)', () => {
    const { run, state, pods } = stable();
    const r = run(state, pods, T0 + 12 * HOUR);
    const text = JSON.stringify(r.actions);
    for (const k of r.state.keys) {
      const b = k.material.copyBytes();
      expect(text).not.toContain(b.toString('hex'));
      expect(text).not.toContain(b.toString('base64'));
      expect(text).not.toContain(b.subarray(0, 16).toString('base64'));
      expect(text).toContain(k.material.fingerprint);
    }
  });

  it('bounds the laggards named in messages', () => {
    const { run, state } = stable(policy(), []);
    const many = Array.from({ length: 14 }, (_, i) => pod(`p${String(i).padStart(2, '0')}`));
    const r = run(state, many, T0 + SEC);
    expect(condition(r, 'Ready').message).toContain('p09 and 4 more');
    expect(one(r.actions, 'conditions').laggards).toHaveLength(14);
  });
});
