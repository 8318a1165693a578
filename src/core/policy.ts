// The rotation policy the state machine runs on: the TicketKeySet spec, normalised (defaults
// applied, durations in milliseconds, the two acting annotations folded in). The reconciler
// maps the CRD object to a PolicyInput and calls resolvePolicy.
import {
  DEFAULT_PROMOTION_TIMEOUT,
  DEFAULT_ROTATION_INTERVAL,
  MAX_TICKET_LIFETIME,
  MIN_ROTATION_INTERVAL,
  type PromotionPolicy,
} from '../api/defaults.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { MAX_RING_KEYS } from './ring.ts';

export type { PromotionPolicy };

export interface RotationPolicy {
  readonly intervalMs: number;
  /** How long a ticket may be resumed; retired keys are kept at least this + promotionTimeoutMs. */
  readonly ticketLifetimeMs: number;
  readonly promotionPolicy: PromotionPolicy;
  /** How long a staged key may wait for acknowledgements before Degraded is raised. */
  readonly promotionTimeoutMs: number;
  readonly suspend: boolean;
  /** Current value of the ticketkeys.dev/rotate-now annotation (undefined: absent). */
  readonly rotateNowToken?: string | undefined;
  /** Current value of the ticketkeys.dev/revoke annotation (undefined: absent). */
  readonly revokeToken?: string | undefined;
  readonly flushOnRevoke: boolean;
}

// The API's defaults and bounds (src/api/defaults.ts, the CRD's one source), in milliseconds.
export const MIN_INTERVAL_MS = parseDuration(MIN_ROTATION_INTERVAL);
export const MAX_TICKET_LIFETIME_MS = parseDuration(MAX_TICKET_LIFETIME);

/** The spec as written (durations as Go strings, everything optional), plus the annotations. */
export interface PolicyInput {
  interval?: string | undefined;
  ticketLifetime?: string | undefined;
  promotionPolicy?: PromotionPolicy | undefined;
  promotionTimeout?: string | undefined;
  suspend?: boolean | undefined;
  flushOnRevoke?: boolean | undefined;
  rotateNowToken?: string | undefined;
  revokeToken?: string | undefined;
}

/** An invalid spec; the message matches the CRD's CEL messages. */
export class PolicyError extends Error {
  override name = 'PolicyError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid rotation policy: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** Applies defaults and validates. Throws PolicyError (or DurationError for unparsable durations). */
export function resolvePolicy(input: PolicyInput): RotationPolicy {
  const intervalMs = parseDuration(input.interval ?? DEFAULT_ROTATION_INTERVAL);
  const policy: RotationPolicy = {
    intervalMs,
    ticketLifetimeMs: input.ticketLifetime === undefined ? intervalMs : parseDuration(input.ticketLifetime),
    promotionPolicy: input.promotionPolicy ?? 'AllPodsAcknowledged',
    promotionTimeoutMs: parseDuration(input.promotionTimeout ?? DEFAULT_PROMOTION_TIMEOUT),
    suspend: input.suspend ?? false,
    flushOnRevoke: input.flushOnRevoke ?? true,
    rotateNowToken: input.rotateNowToken,
    revokeToken: input.revokeToken,
  };
  const problems = policyProblems(policy);
  if (problems.length > 0) throw new PolicyError(problems);
  return policy;
}

/** The CRD's validation rules, as readable messages (empty when valid). */
export function policyProblems(p: RotationPolicy): string[] {
  const problems: string[] = [];
  if (!(p.intervalMs >= MIN_INTERVAL_MS)) problems.push(`rotation.interval must be at least ${MIN_ROTATION_INTERVAL}`);
  if (!(p.ticketLifetimeMs > 0)) problems.push('ticketLifetime must be positive');
  if (!(p.ticketLifetimeMs <= MAX_TICKET_LIFETIME_MS)) {
    problems.push(`ticketLifetime must be at most ${MAX_TICKET_LIFETIME} (7 days, RFC 8446)`);
  }
  if (!(p.promotionTimeoutMs > 0)) problems.push('promotion.timeout must be positive');
  if (!(p.promotionTimeoutMs < p.intervalMs)) problems.push('promotion.timeout must be shorter than rotation.interval');
  if (p.promotionPolicy !== 'AllPodsAcknowledged' && p.promotionPolicy !== 'Immediate') {
    problems.push('promotion.policy must be AllPodsAcknowledged or Immediate');
  }
  return problems;
}

/**
 * The most retired keys a steady schedule needs at once. A ring holds at most MAX_RING_KEYS
 * keys (one active, one staged while staging, the rest retired); when the schedule needs
 * more, rotations are deferred until a retired key expires (tickets are never cut short).
 */
export function retiredKeysNeeded(p: RotationPolicy): number {
  return Math.ceil((p.ticketLifetimeMs + p.promotionTimeoutMs) / p.intervalMs);
}

/** Advisory messages for a valid but questionable policy (shown as a Warning event). */
export function policyWarnings(p: RotationPolicy): string[] {
  const warnings: string[] = [];
  const room = MAX_RING_KEYS - 2;
  if (retiredKeysNeeded(p) > room) {
    warnings.push(
      `ticketLifetime + promotion.timeout (${formatDuration(p.ticketLifetimeMs + p.promotionTimeoutMs)}) spans more ` +
        `than ${room} intervals of ${formatDuration(p.intervalMs)}; rotations will be deferred so the ring stays within ` +
        `${MAX_RING_KEYS} keys`,
    );
  }
  return warnings;
}
