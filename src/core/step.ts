// The rotation state machine of DESIGN.md as one pure function:
//   step(state, observations, policy, now) → { state, actions }
// Level-triggered: it looks at where things are (persisted state + what pods acknowledged)
// and says what to do next; calling it twice with the same inputs asks for the same thing.
// It never mutates its inputs and never zeroes keys itself (the shell does, after the
// persist succeeded, through a destroyKeys action), so a failed persist loses nothing.
//
// One step, in order:
//   - acknowledgements are screened first (ack-screen.ts): a pod claiming a generation the
//     operator never issued is that pod's error and counts for nothing else;
//   - no keys yet: create K1 active (tokens present at creation count as handled); when the
//     Secret was lost (observations.secretLoss), the new key replaces the lost ring in phase
//     Promoting, so the set reports Stable only once every Ready pod holds it;
//   - a new revoke token: a ring of one brand-new key, phase Revoking, pushed with revoke=true
//     (and session-cache flushes) until every Ready pod holds it; every old key is destroyed;
//   - Staging: promote when every Ready, non-terminating pod acknowledged the current ring
//     (generation + ring fingerprint) and at least one agent answered with it in this
//     reconcile, or at once under Immediate; after promotionTimeout with laggards, Degraded
//     (the key stays staged, failing pods are retried with backoff). Unreachable pods are never
//     dropped from the gate: promotion waits for them (fail open: the operator does not take
//     them out of service either, see readiness.ts);
//   - Promoting/Revoking: Stable once every Ready pod holds the ring (same rule: a rotation
//     that no pod was seen acknowledging is never complete);
//   - retired keys past expiresAt (retiredAt + ticketLifetime + promotionTimeout, extended to
//     completion + ticketLifetime when a promotion overran) are dropped and destroyed; the key
//     the in-flight promotion retired is never dropped while a Ready pod may still encrypt with it;
//   - Stable (Immediate: also Promoting), not suspended, and nextRotationTime reached or a new
//     rotate-now token: stage K(n+1) (Immediate: make it active at once). The next rotation is
//     due an interval after the promotion, so missed periods never rotate twice; with
//     rotation.schedule, at the first slot after the last rotation (gated by windows, skipped
//     past startingDeadline: schedule/decide.ts), which never rotates twice either. A ring holds
//     at most MAX_RING_KEYS (16) keys: when a rotation would exceed that, it is deferred until
//     a retired key expires (tickets are never cut short to make room);
//   - any ring change gets generation max(previous, recorded, highest screened ack) + 1.
import type { Action, EventAction, PushAction, StepResult } from './actions.ts';
import { ackBound, screenAcks } from './ack-screen.ts';
import { pushRetryDelayMs } from './backoff.ts';
import { buildConditions } from './conditions.ts';
import { cryptoRandom, KeyMaterial, type RandomSource } from './key-material.ts';
import { convergence, maxAckedGeneration, observedConverged, type Convergence, type Observations } from './observations.ts';
import type { RotationPolicy } from './policy.ts';
import { MAX_RING_KEYS, ringFingerprintOf } from './ring.ts';
import { decideScheduledRotation, nextScheduledAfter } from './schedule/index.ts';
import {
  activeKey,
  pushOrder,
  ringMaterial,
  normalizeState,
  ringSignature,
  sameState,
  stagedKey,
  stateProblems,
  type RingKey,
  type RotationState,
} from './state.ts';

/** The shell polls at least this often (schedules poll the wall clock; no one-shot timers). */
export const MAX_REQUEUE_MS = 5 * 60_000;

export interface StepOptions {
  /** Source of key bytes; defaults to the CSPRNG. */
  readonly random?: RandomSource;
}

/** The state handed to step() is inconsistent (a bug or a tampered Secret); nothing was done. */
export class InvalidStateError extends Error {
  override name = 'InvalidStateError';
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function step(
  prev: RotationState,
  observations: Observations,
  policy: RotationPolicy,
  nowInput: number,
  options: StepOptions = {},
): StepResult {
  const problems = stateProblems(prev);
  if (problems.length > 0) throw new InvalidStateError(`cannot step an inconsistent state: ${problems.join('; ')}`);
  const now = Math.floor(nowInput);
  const random = options.random ?? cryptoRandom;
  const hasRing = prev.keys.length > 0;
  // Without a ring the recorded generation (status) is the floor; with one, the Secret is the record.
  const issued = hasRing ? prev.generation : Math.max(prev.generation, safeGeneration(observations.issuedGeneration));
  const pods = screenAcks(observations.pods, ackBound(hasRing, issued));
  const events: EventAction[] = [];
  const destroyed: KeyMaterial[] = [];
  const s: Mutable<RotationState> = { ...prev, keys: [...prev.keys] };
  const prevRingFp = prev.keys.length > 0 ? ringFingerprintOf(ringMaterial(prev)) : undefined;
  const rotateNowPending = policy.rotateNowToken !== undefined && policy.rotateNowToken !== prev.handledRotateNowToken;
  const revokePending = policy.revokeToken !== undefined && policy.revokeToken !== prev.handledRevokeToken;
  const event = (type: EventAction['type'], reason: EventAction['reason'], message: string): void => {
    events.push({ kind: 'event', type, reason, message });
  };
  const newKey = (): KeyMaterial => freshKey(random, [...prev.keys.map((k) => k.material)]);
  let rotationDeferred = false;

  if (!hasRing) {
    // First ring: one active key. Annotations present at creation are satisfied by it.
    const key = newKey();
    s.keys = [{ material: key, state: 'active', createdAt: now, promotedAt: now }];
    s.phase = 'Stable';
    s.lastRotationTime = now;
    s.nextRotationTime = nextRotationAfter(policy, now);
    s.handledRotateNowToken = policy.rotateNowToken;
    s.handledRevokeToken = policy.revokeToken;
    const loss = observations.secretLoss;
    if (loss) {
      // The lost keys cannot be pushed again (their only durable copy is gone or untrusted), so
      // the new key replaces them everywhere, above every generation a pod may hold.
      s.phase = 'Promoting';
      s.regeneratedAt = now;
      s.regeneratedBecause = loss.reason;
      event('Warning', 'SecretRegenerated', `${loss.detail}; new key ${key.fingerprint} replaces the lost ring on every pod (tickets issued under the lost keys fall back to full handshakes)`);
    } else {
      event('Normal', 'KeyCreated', `created the first key ${key.fingerprint}`);
    }
  } else if (revokePending) {
    // Emergency: a ring of one brand-new key, forced over every pod; every old key dies.
    const key = newKey();
    destroyed.push(...ringMaterial(prev));
    s.keys = [{ material: key, state: 'active', createdAt: now, promotedAt: now }];
    s.phase = 'Revoking';
    s.lastRotationTime = now;
    s.nextRotationTime = nextRotationAfter(policy, now);
    s.stagedAt = undefined;
    s.phaseTimedOutAt = undefined;
    s.handledRevokeToken = policy.revokeToken;
    if (rotateNowPending) s.handledRotateNowToken = policy.rotateNowToken;
    event(
      'Warning',
      'KeysRevoked',
      `revoked ${prev.keys.length} key(s) (${prev.keys.map((k) => k.material.fingerprint).join(', ')}); ` +
        `new key ${key.fingerprint} is forced onto every pod${policy.flushOnRevoke ? ' and session caches are flushed' : ''}`,
    );
  } else {
    refreshForPolicy(s, policy);
    const conv = convergence(pods, prev.generation, prevRingFp);

    // Phase transitions decided by what pods acknowledged of the previous ring.
    if (s.phase === 'Staging') {
      if (policy.promotionPolicy === 'Immediate' || gateOpen(conv)) {
        // With fileFallback the key also waits until every mounted ticket.key can hold it.
        if (!fileRingHeld(s, policy, now)) promote(s, now, policy, event);
      } else if (s.phaseTimedOutAt === undefined && now >= (s.stagedAt ?? now) + policy.promotionTimeoutMs) {
        s.phaseTimedOutAt = now;
        event(
          'Warning',
          'PromotionTimedOut',
          `staged key ${stagedKey(s)?.material.fingerprint} not acknowledged by: ${conv.laggards.join(', ')}; ` +
            `it stays staged and the active key keeps encrypting`,
        );
      }
    } else if (s.phase === 'Promoting' || s.phase === 'Revoking') {
      if (gateOpen(conv)) {
        if (s.phase === 'Promoting') holdLaggardTickets(s, now, policy);
        event('Normal', s.phase === 'Promoting' ? 'RotationComplete' : 'RevokeComplete', `every ready pod holds generation ${prev.generation}`);
        s.phase = 'Stable';
        s.phaseTimedOutAt = undefined;
        s.regeneratedAt = undefined;
        s.regeneratedBecause = undefined;
      } else if (s.phaseTimedOutAt === undefined && now >= (s.lastRotationTime ?? now) + policy.promotionTimeoutMs) {
        s.phaseTimedOutAt = now;
        event('Warning', 'ConvergenceTimedOut', `generation ${prev.generation} not installed by: ${conv.laggards.join(', ')}`);
      }
    }

    // Retired keys past their expiry leave the ring and are destroyed.
    for (const k of s.keys) {
      if (k.state === 'retired' && k.expiresAt !== undefined && k.expiresAt <= now && !isHeld(s, k)) {
        destroyed.push(k.material);
        event('Normal', 'KeyDestroyed', `retired key ${k.material.fingerprint} expired and was destroyed`);
      }
    }
    s.keys = s.keys.filter((k) => !destroyed.includes(k.material));

    // Scheduled or requested rotation.
    const canRotate = s.phase === 'Stable' || (policy.promotionPolicy === 'Immediate' && s.phase === 'Promoting');
    // A calendar schedule decides from the last rotation and now (schedule/decide.ts): one
    // catch-up rotation at most, windows and startingDeadline respected; rotate-now ignores them.
    const decision = policy.schedule && s.lastRotationTime !== undefined ? decideScheduledRotation(policy.schedule, s.lastRotationTime, now) : undefined;
    // Not due: the next slot (or window opening) is what status reports and the requeue waits for.
    if (decision && canRotate && !decision.due) s.nextRotationTime = decision.nextRotationTime ?? now + NEVER_MS;
    const scheduledDue = decision ? decision.due : now >= (s.nextRotationTime ?? now);
    const due = !policy.suspend && (rotateNowPending || scheduledDue);
    if (canRotate && due) {
      if (s.keys.length + 1 > MAX_RING_KEYS) {
        rotationDeferred = true;
      } else {
        if (rotateNowPending) s.handledRotateNowToken = policy.rotateNowToken;
        if (policy.promotionPolicy === 'Immediate') rotateImmediately(s, newKey(), now, policy, event);
        else stage(s, newKey(), now, event);
      }
    }
  }

  // Generation: a new one for every ring change, above everything issued and every screened
  // report (with a ring, screening keeps reports at or below prev.generation).
  if (ringSignature(s.keys) !== ringSignature(prev.keys)) {
    s.generation = Math.max(issued, maxAckedGeneration(pods)) + 1;
    s.pushAttempts = 0;
    s.nextPushRetryAt = undefined;
  }

  // Pushes: every non-terminating pod that does not hold the ring; failing pods with backoff.
  const ringFp = ringFingerprintOf(ringMaterial(s));
  const conv = convergence(pods, s.generation, ringFp);
  const retryDue = s.nextPushRetryAt === undefined || now >= s.nextPushRetryAt;
  const targets = conv.pending.filter((p) => p.error === undefined || retryDue);
  if (conv.pending.length === 0) {
    s.pushAttempts = 0;
    s.nextPushRetryAt = undefined;
  } else if (targets.some((p) => p.error !== undefined)) {
    s.pushAttempts += 1;
    s.nextPushRetryAt = now + pushRetryDelayMs(s.pushAttempts);
  }

  const next: RotationState = normalizeState(s);
  const actions: Action[] = [];
  if (!sameState(prev, next)) actions.push({ kind: 'persist', state: next });
  if (targets.length > 0) {
    const push: PushAction = {
      kind: 'push',
      generation: next.generation,
      ringFingerprint: ringFp,
      ring: next.keys.map((k) => ({ material: k.material, state: k.state })),
      pods: targets.map((p) => p.name).sort(),
      revoke: next.phase === 'Revoking',
    };
    actions.push(push);
    if (push.revoke && policy.flushOnRevoke) actions.push({ kind: 'flushSessionCache', pods: push.pods });
  }
  if (destroyed.length > 0) actions.push({ kind: 'destroyKeys', keys: destroyed });
  actions.push(...events);
  actions.push(
    buildConditions({
      state: next,
      policy,
      convergence: conv,
      rotationDeferred,
      rotateNowPending: policy.rotateNowToken !== undefined && policy.rotateNowToken !== next.handledRotateNowToken,
      fileRingHeldUntil: fileRingHeld(next, policy, now) ? (next.stagedAt ?? now) + policy.fileRingHoldMs : undefined,
    }),
  );
  actions.push({ kind: 'requeue', afterMs: requeueAfter(next, policy, now, rotationDeferred, conv.pending.some((p) => p.error !== undefined)) });
  return { state: next, actions };
}

/** Stands in for "never" when a schedule has no slot within its 5-year horizon (validation refuses those). */
const NEVER_MS = 5 * 366 * 24 * 3_600_000;

/** When the next scheduled rotation is due after a rotation at `now`. */
function nextRotationAfter(policy: RotationPolicy, now: number): number {
  if (!policy.schedule) return now + policy.intervalMs;
  return nextScheduledAfter(policy.schedule, now) ?? now + NEVER_MS;
}

/**
 * The promotion gate (and the completion test): every Ready pod holds the ring, and at least
 * one agent answered with it in this reconcile. Without that second rule "every Ready pod
 * acknowledged" is vacuously true when no pod is Ready or reachable.
 */
function gateOpen(conv: Convergence): boolean {
  return conv.laggards.length === 0 && observedConverged(conv).length > 0;
}

/** A recorded generation usable as a floor (status is input too: anything odd counts as 0). */
function safeGeneration(g: number | undefined): number {
  return g !== undefined && Number.isSafeInteger(g) && g > 0 && g < Number.MAX_SAFE_INTEGER / 2 ? g : 0;
}

/** A new key whose 16-byte name differs from every key it will share a ring (or a pod) with. */
function freshKey(random: RandomSource, existing: readonly KeyMaterial[]): KeyMaterial {
  for (let attempt = 0; attempt < 8; attempt++) {
    const key = KeyMaterial.generate(random);
    if (!existing.some((e) => !e.destroyed && e.hasSameName(key))) return key;
    key.destroy();
  }
  throw new Error('the random source keeps returning key names already in the ring');
}

/** Applies policy edits to a state computed under an older policy. */
function refreshForPolicy(s: Mutable<RotationState>, policy: RotationPolicy): void {
  // A shorter interval takes effect from the last rotation, not after the old, longer wait.
  // (A schedule recomputes nextRotationTime from the last rotation at every step.)
  if (!policy.schedule && s.lastRotationTime !== undefined && s.nextRotationTime !== undefined) {
    s.nextRotationTime = Math.min(s.nextRotationTime, s.lastRotationTime + policy.intervalMs);
  }
  // A longer ticket lifetime or timeout keeps retired keys longer; a shorter one never cuts
  // tickets already issued under the longer promise.
  s.keys = s.keys.map((k) =>
    k.state === 'retired' && k.retiredAt !== undefined && k.expiresAt !== undefined
      ? { ...k, expiresAt: Math.max(k.expiresAt, k.retiredAt + policy.ticketLifetimeMs + policy.promotionTimeoutMs) }
      : k,
  );
}

function stage(s: Mutable<RotationState>, key: KeyMaterial, now: number, event: (t: 'Normal', r: EventAction['reason'], m: string) => void): void {
  s.keys = pushOrder([...s.keys, { material: key, state: 'staged', createdAt: now }]);
  s.phase = 'Staging';
  s.stagedAt = now;
  s.phaseTimedOutAt = undefined;
  event('Normal', 'KeyStaged', `staged key ${key.fingerprint} (decrypt-only until every ready pod holds it)`);
}

function retire(k: RingKey, now: number, policy: RotationPolicy): RingKey {
  return {
    material: k.material,
    state: 'retired',
    createdAt: k.createdAt,
    promotedAt: k.promotedAt,
    retiredAt: now,
    expiresAt: now + policy.ticketLifetimeMs + policy.promotionTimeoutMs,
  };
}

function promote(s: Mutable<RotationState>, now: number, policy: RotationPolicy, event: (t: 'Normal', r: EventAction['reason'], m: string) => void): void {
  const old = activeKey(s);
  const staged = stagedKey(s);
  s.keys = pushOrder(
    s.keys.map((k) =>
      k.state === 'staged'
        ? { material: k.material, state: 'active', createdAt: k.createdAt, promotedAt: now }
        : k.state === 'active'
          ? retire(k, now, policy)
          : k,
    ),
  );
  s.phase = 'Promoting';
  s.lastRotationTime = now;
  s.nextRotationTime = nextRotationAfter(policy, now);
  s.stagedAt = undefined;
  s.phaseTimedOutAt = undefined;
  event('Normal', 'KeyPromoted', `key ${staged?.material.fingerprint} now encrypts`);
  if (old) event('Normal', 'KeyRetired', `key ${old.material.fingerprint} retired (decrypt-only until it expires)`);
}

function rotateImmediately(
  s: Mutable<RotationState>,
  key: KeyMaterial,
  now: number,
  policy: RotationPolicy,
  event: (t: 'Normal', r: EventAction['reason'], m: string) => void,
): void {
  const old = activeKey(s);
  s.keys = pushOrder([
    { material: key, state: 'active', createdAt: now, promotedAt: now },
    ...s.keys.map((k) => (k.state === 'active' ? retire(k, now, policy) : k)),
  ]);
  s.phase = 'Promoting';
  s.lastRotationTime = now;
  s.nextRotationTime = nextRotationAfter(policy, now);
  s.phaseTimedOutAt = undefined;
  event('Normal', 'KeyPromoted', `key ${key.fingerprint} encrypts at once (Immediate policy)`);
  if (old) event('Normal', 'KeyRetired', `key ${old.material.fingerprint} retired (decrypt-only until it expires)`);
}

/**
 * The key retired by the promotion in flight: a ready laggard may still encrypt with it, so
 * it is not dropped while the phase is Promoting.
 */
function isHeld(s: RotationState, k: RingKey): boolean {
  const active = activeKey(s);
  return s.phase === 'Promoting' && active?.promotedAt !== undefined && (k.retiredAt ?? -Infinity) >= active.promotedAt;
}

/**
 * Promotion completed now: the last pod stopped encrypting with the previous key just now, so
 * its tickets live until now + ticketLifetime at least (matters when promotion overran the timeout).
 */
function holdLaggardTickets(s: Mutable<RotationState>, now: number, policy: RotationPolicy): void {
  s.keys = s.keys.map((k) =>
    isHeld(s, k) && k.expiresAt !== undefined ? { ...k, expiresAt: Math.max(k.expiresAt, now + policy.ticketLifetimeMs) } : k,
  );
}

/** Whether a staged key must still wait for kubelet to bring the Secret's ticket.key into every pod. */
export function fileRingHeld(s: Pick<RotationState, 'phase' | 'stagedAt'>, policy: RotationPolicy, now: number): boolean {
  return s.phase === 'Staging' && policy.fileRingHoldMs > 0 && now < (s.stagedAt ?? now) + policy.fileRingHoldMs;
}

function requeueAfter(s: RotationState, policy: RotationPolicy, now: number, deferred: boolean, failing: boolean): number {
  const at: number[] = [];
  if (fileRingHeld(s, policy, now)) at.push((s.stagedAt ?? now) + policy.fileRingHoldMs);
  const rotating = s.phase === 'Stable' || (policy.promotionPolicy === 'Immediate' && s.phase === 'Promoting');
  if (!policy.suspend && rotating && !deferred && s.nextRotationTime !== undefined) at.push(s.nextRotationTime);
  if (s.phase !== 'Stable' && s.phaseTimedOutAt === undefined) {
    const since = s.phase === 'Staging' ? s.stagedAt : s.lastRotationTime;
    if (since !== undefined) at.push(since + policy.promotionTimeoutMs);
  }
  for (const k of s.keys) {
    if (k.state === 'retired' && k.expiresAt !== undefined && !isHeld(s, k)) at.push(k.expiresAt);
  }
  if (failing && s.nextPushRetryAt !== undefined) at.push(s.nextPushRetryAt);
  const soonest = Math.min(now + MAX_REQUEUE_MS, ...at);
  return Math.max(0, soonest - now);
}
