// Whether the key state read from the owned Secret can be trusted, judged against what the
// operator itself last published in the TicketKeySet status (written after every persist, so
// the status never runs ahead of the Secret). A Secret that is gone while the status says keys
// existed, one that went back in generation (a restored backup), or one whose ring differs from
// the published one at the same generation is not used: its bytes are unknown, and reusing them
// could roll pods back. The caller then regenerates a ring above every recorded generation. Pure.
import type { TicketKeySetStatus } from '../../api/index.ts';
import { activeKey, type RotationState, type SecretLossReason } from '../../core/index.ts';

export interface SecretLoss {
  readonly reason: SecretLossReason;
  readonly detail: string;
}

/** The generation the status records (0 when absent or implausible). */
export function recordedGeneration(status: TicketKeySetStatus | undefined): number {
  const g = status?.keyGeneration;
  return typeof g === 'number' && Number.isSafeInteger(g) && g > 0 ? g : 0;
}

export function secretMissing(secretName: string, status: TicketKeySetStatus | undefined): SecretLoss | undefined {
  const recorded = recordedGeneration(status);
  if (recorded === 0) return undefined; // never had keys: a first ring, not a loss
  return { reason: 'SecretDeleted', detail: `the owned Secret ${secretName} is gone, though generation ${recorded} was issued` };
}

export function secretCorrupt(secretName: string, why: string): SecretLoss {
  return { reason: 'SecretCorrupt', detail: `the owned Secret ${secretName} is unreadable (${why})` };
}

export function secretTampered(secretName: string, state: RotationState, status: TicketKeySetStatus | undefined): SecretLoss | undefined {
  const recorded = recordedGeneration(status);
  if (recorded === 0 || state.generation > recorded) return undefined;
  if (state.generation < recorded) {
    return { reason: 'SecretTampered', detail: `the owned Secret ${secretName} holds generation ${state.generation}, older than the issued generation ${recorded}` };
  }
  const published = status?.activeKey?.fingerprint;
  const stored = activeKey(state)?.material.fingerprint;
  const publishedStaged = status?.stagedKey?.fingerprint;
  const storedStaged = state.keys.find((k) => k.state === 'staged')?.material.fingerprint;
  if ((published !== undefined && published !== stored) || publishedStaged !== storedStaged) {
    return { reason: 'SecretTampered', detail: `the owned Secret ${secretName} holds a ring at generation ${recorded} that differs from the one the operator issued` };
  }
  return undefined;
}
