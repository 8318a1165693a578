// Shared test helpers for the core: policies, pods and action finders. Keys (seeded or random)
// come from test/fixtures/keys.ts.
import type { Action } from '../../../src/core/actions.ts';
import type { PodObservation } from '../../../src/core/observations.ts';
import type { RotationPolicy } from '../../../src/core/policy.ts';

export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

export function policy(overrides: Partial<RotationPolicy> = {}): RotationPolicy {
  return {
    intervalMs: 12 * HOUR,
    ticketLifetimeMs: 12 * HOUR,
    promotionPolicy: 'AllPodsAcknowledged',
    promotionTimeoutMs: 5 * MIN,
    suspend: false,
    flushOnRevoke: true,
    fileRingHoldMs: 0,
    ...overrides,
  };
}

export function pod(name: string, overrides: Partial<PodObservation> = {}): PodObservation {
  return { name, uid: `uid-${name}`, ready: true, terminating: false, ...overrides };
}

export function ofKind<K extends Action['kind']>(actions: readonly Action[], kind: K): Extract<Action, { kind: K }>[] {
  return actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
}

export function one<K extends Action['kind']>(actions: readonly Action[], kind: K): Extract<Action, { kind: K }> {
  const found = ofKind(actions, kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} action, found ${found.length}`);
  return found[0]!;
}
