// The rotation state the operator persists (in the Secret, see secret-format.ts) and feeds
// back into step(). Keys are kept in push order: active first, then the staged key, then
// retired keys, most recently retired first.
import { KEY_STATES, MAX_RING_KEYS, type KeyState } from '../contract/keys.ts';
import type { KeyMaterial } from './key-material.ts';

/** staged: decrypt-only, waiting for every pod; active: encrypts; retired: decrypt-only until it expires (src/contract). */
export { KEY_STATES, type KeyState };

/** Stable: no rotation in flight. Staging: a staged key waits at the gate. Promoting/Revoking: a new active key is being installed. */
export type Phase = 'Stable' | 'Staging' | 'Promoting' | 'Revoking';

export const PHASES: readonly Phase[] = ['Stable', 'Staging', 'Promoting', 'Revoking'];

/** All timestamps are epoch milliseconds (integers). */
export interface RingKey {
  readonly material: KeyMaterial;
  readonly state: KeyState;
  readonly createdAt: number;
  /** When the key became active (set for active and retired keys). */
  readonly promotedAt?: number | undefined;
  /** When the key stopped encrypting (retired keys). */
  readonly retiredAt?: number | undefined;
  /** When the retired key is dropped from the ring and zeroed (retired keys). */
  readonly expiresAt?: number | undefined;
}

export interface RotationState {
  /** Ring generation: strictly increases on every ring change. 0 only before the first ring. */
  readonly generation: number;
  readonly phase: Phase;
  /** Push order. Empty only before the first ring. */
  readonly keys: readonly RingKey[];
  /** When the current active key was promoted (or created by the first ring or a revoke). */
  readonly lastRotationTime?: number | undefined;
  /** When the next scheduled rotation is due. */
  readonly nextRotationTime?: number | undefined;
  /** When the staged key was staged (phase Staging): starts the promotion timeout. */
  readonly stagedAt?: number | undefined;
  /** When the in-flight phase (Staging/Promoting/Revoking) passed promotionTimeout with laggards. */
  readonly phaseTimedOutAt?: number | undefined;
  /** The rotate-now annotation value already acted on. */
  readonly handledRotateNowToken?: string | undefined;
  /** The revoke annotation value already acted on. */
  readonly handledRevokeToken?: string | undefined;
  /** Push retries to failing pods of the current ring (the promotion attempt count); drives backoff. */
  readonly pushAttempts: number;
  /** Earliest time failing pods are pushed again. */
  readonly nextPushRetryAt?: number | undefined;
  /** When the ring was regenerated because the Secret was lost; cleared once every pod holds it. */
  readonly regeneratedAt?: number | undefined;
  /** Why (SecretDeleted, SecretTampered, SecretCorrupt). */
  readonly regeneratedBecause?: string | undefined;
}

/** The state before the first ring exists (no Secret yet). */
export function initialState(): RotationState {
  return { generation: 0, phase: 'Stable', keys: [], pushAttempts: 0 };
}

export function activeKey(state: RotationState): RingKey | undefined {
  return state.keys.find((k) => k.state === 'active');
}

export function stagedKey(state: RotationState): RingKey | undefined {
  return state.keys.find((k) => k.state === 'staged');
}

export function retiredKeys(state: RotationState): RingKey[] {
  return state.keys.filter((k) => k.state === 'retired');
}

/** The key material in push order (what ATS receives). */
export function ringMaterial(state: RotationState): KeyMaterial[] {
  return state.keys.map((k) => k.material);
}

const STATE_RANK: Readonly<Record<KeyState, number>> = { active: 0, staged: 1, retired: 2 };

/** Sorts into push order: active, staged, retired (most recently retired first). Stable for ties. */
export function pushOrder(keys: readonly RingKey[]): RingKey[] {
  return keys
    .map((k, i) => ({ k, i }))
    .sort((a, b) => {
      const byState = STATE_RANK[a.k.state] - STATE_RANK[b.k.state];
      if (byState !== 0) return byState;
      const byRetired = (b.k.retiredAt ?? 0) - (a.k.retiredAt ?? 0);
      return byRetired !== 0 ? byRetired : a.i - b.i;
    })
    .map(({ k }) => k);
}

/** Identity of the ring content: keys and their states in push order (fingerprints only). */
export function ringSignature(keys: readonly RingKey[]): string {
  return keys.map((k) => `${k.material.fingerprint}:${k.state}`).join(',');
}

const isTime = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * Everything that must hold for a state to be persisted or stepped; empty when consistent.
 * Messages name fingerprints and fields, never bytes.
 */
export function stateProblems(state: RotationState): string[] {
  const p: string[] = [];
  if (!Number.isSafeInteger(state.generation) || state.generation < 0) p.push('generation must be a non-negative integer');
  if (!PHASES.includes(state.phase)) p.push(`unknown phase ${JSON.stringify(state.phase)}`);
  if (!Number.isSafeInteger(state.pushAttempts) || state.pushAttempts < 0) p.push('pushAttempts must be a non-negative integer');
  for (const f of ['lastRotationTime', 'nextRotationTime', 'stagedAt', 'phaseTimedOutAt', 'nextPushRetryAt', 'regeneratedAt'] as const) {
    if (state[f] !== undefined && !isTime(state[f])) p.push(`${f} must be an integer timestamp`);
  }
  if ((state.regeneratedAt === undefined) !== (state.regeneratedBecause === undefined)) p.push('regeneratedAt and regeneratedBecause go together');
  if (state.keys.length === 0) {
    if (state.phase !== 'Stable') p.push('a state without keys must be Stable');
    return p;
  }
  if (state.generation < 1) p.push('a ring needs a generation of at least 1');
  if (state.keys.length > MAX_RING_KEYS) p.push(`the ring holds ${state.keys.length} keys; at most ${MAX_RING_KEYS}`);
  const active = state.keys.filter((k) => k.state === 'active').length;
  const staged = state.keys.filter((k) => k.state === 'staged').length;
  if (active !== 1) p.push(`exactly one key must be active, found ${active}`);
  if (staged > 1) p.push(`at most one key may be staged, found ${staged}`);
  if ((state.phase === 'Staging') !== (staged === 1)) p.push('a staged key exists exactly in phase Staging');
  if ((state.phase === 'Staging') !== (state.stagedAt !== undefined)) p.push('stagedAt is set exactly in phase Staging');
  if (state.lastRotationTime === undefined || state.nextRotationTime === undefined) {
    p.push('lastRotationTime and nextRotationTime are required once a ring exists');
  }
  if (ringSignature(pushOrder(state.keys)) !== ringSignature(state.keys)) {
    p.push('keys must be in push order (active, staged, retired newest first)');
  }
  const seen = new Set<string>();
  state.keys.forEach((k, i) => {
    const at = `key #${i} (${k.material.fingerprint})`;
    if (!KEY_STATES.includes(k.state)) p.push(`${at}: unknown state ${JSON.stringify(k.state)}`);
    if (k.material.destroyed) p.push(`${at}: destroyed`);
    if (seen.has(k.material.fingerprint)) p.push(`${at}: duplicate key`);
    seen.add(k.material.fingerprint);
    if (!isTime(k.createdAt)) p.push(`${at}: createdAt must be an integer timestamp`);
    for (const f of ['promotedAt', 'retiredAt', 'expiresAt'] as const) {
      if (k[f] !== undefined && !isTime(k[f])) p.push(`${at}: ${f} must be an integer timestamp`);
    }
    if (k.state === 'staged' && (k.promotedAt !== undefined || k.retiredAt !== undefined || k.expiresAt !== undefined)) {
      p.push(`${at}: a staged key has no promotedAt, retiredAt or expiresAt`);
    }
    if (k.state === 'active' && (k.promotedAt === undefined || k.retiredAt !== undefined || k.expiresAt !== undefined)) {
      p.push(`${at}: an active key has promotedAt and no retiredAt or expiresAt`);
    }
    if (k.state === 'retired' && (k.retiredAt === undefined || k.expiresAt === undefined)) {
      p.push(`${at}: a retired key has retiredAt and expiresAt`);
    }
  });
  if (p.length === 0) {
    const mats = state.keys.map((k) => k.material);
    for (let i = 0; i < mats.length; i++) {
      for (let j = i + 1; j < mats.length; j++) {
        if (mats[i]!.hasSameName(mats[j]!)) p.push(`keys #${i} and #${j} share a key name`);
      }
    }
  }
  return p;
}

/**
 * The same state with fields in one fixed order and no undefined fields: states that mean the
 * same thing compare equal (sameState) and round-trip through the Secret exactly.
 */
export function normalizeState(s: RotationState): RotationState {
  const out: Record<string, unknown> = { generation: s.generation, phase: s.phase };
  out.keys = s.keys.map((k) => {
    const key: Record<string, unknown> = { material: k.material, state: k.state, createdAt: k.createdAt };
    if (k.promotedAt !== undefined) key.promotedAt = k.promotedAt;
    if (k.retiredAt !== undefined) key.retiredAt = k.retiredAt;
    if (k.expiresAt !== undefined) key.expiresAt = k.expiresAt;
    return key;
  });
  for (const f of STATE_OPTIONAL_FIELDS) if (s[f] !== undefined) out[f] = s[f];
  out.pushAttempts = s.pushAttempts;
  if (s.nextPushRetryAt !== undefined) out.nextPushRetryAt = s.nextPushRetryAt;
  if (s.regeneratedAt !== undefined) out.regeneratedAt = s.regeneratedAt;
  if (s.regeneratedBecause !== undefined) out.regeneratedBecause = s.regeneratedBecause;
  return out as unknown as RotationState;
}

const STATE_OPTIONAL_FIELDS = [
  'lastRotationTime',
  'nextRotationTime',
  'stagedAt',
  'phaseTimedOutAt',
  'handledRotateNowToken',
  'handledRevokeToken',
] as const;

/** Equal in everything persisted (keys compared by fingerprint). */
export function sameState(a: RotationState, b: RotationState): boolean {
  return JSON.stringify(normalizeState(a)) === JSON.stringify(normalizeState(b));
}
