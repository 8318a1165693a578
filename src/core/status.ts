// The key part of TicketKeySet status, derived from the state: fingerprints and timestamps,
// never bytes. The reconciler adds conditions, pods and observedGeneration.
import { activeKey, retiredKeys, stagedKey, type Phase, type RingKey, type RotationState } from './state.ts';

export interface KeyStatus {
  fingerprint: string;
  createdAt: string;
  promotedAt?: string;
  retiredAt?: string;
  expiresAt?: string;
}

export interface KeyRingStatus {
  keyGeneration: number;
  phase: Phase;
  activeKey?: KeyStatus;
  stagedKey?: KeyStatus;
  retiredKeys: KeyStatus[];
  lastRotationTime?: string;
  nextRotationTime?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function keyStatus(k: RingKey): KeyStatus {
  const out: KeyStatus = { fingerprint: k.material.fingerprint, createdAt: iso(k.createdAt) };
  if (k.promotedAt !== undefined) out.promotedAt = iso(k.promotedAt);
  if (k.retiredAt !== undefined) out.retiredAt = iso(k.retiredAt);
  if (k.expiresAt !== undefined) out.expiresAt = iso(k.expiresAt);
  return out;
}

export function keyRingStatus(state: RotationState): KeyRingStatus {
  const out: KeyRingStatus = { keyGeneration: state.generation, phase: state.phase, retiredKeys: retiredKeys(state).map(keyStatus) };
  const active = activeKey(state);
  const staged = stagedKey(state);
  if (active) out.activeKey = keyStatus(active);
  if (staged) out.stagedKey = keyStatus(staged);
  if (state.lastRotationTime !== undefined) out.lastRotationTime = iso(state.lastRotationTime);
  if (state.nextRotationTime !== undefined) out.nextRotationTime = iso(state.nextRotationTime);
  return out;
}
