// The rotation policy the state machine runs on: the TicketKeySet spec, normalised (defaults
// applied, durations in milliseconds, the two acting annotations folded in). The reconciler
// maps the CRD object to a PolicyInput and calls resolvePolicy.
import {
  DEFAULT_FILE_PROPAGATION_DELAY,
  DEFAULT_PROMOTION_TIMEOUT,
  DEFAULT_ROTATION_INTERVAL,
  MAX_TICKET_LIFETIME,
  MIN_ROTATION_INTERVAL,
  type PromotionPolicy,
} from '../api/defaults.ts';
import { DEFAULT_TIME_ZONE } from '../api/schedule-bounds.ts';
import { DurationError, formatDuration, parseDuration } from './duration.ts';
import { MAX_RING_KEYS } from './ring.ts';
import { CronSchedule, ScheduleError, earliestOpenAtOrAfter, gapStats, type MaintenanceWindow, type RotationSchedule } from './schedule/index.ts';

export type { PromotionPolicy };

export interface RotationPolicy {
  /** The rotation interval; with a schedule, the longest gap between its slots over the next year. */
  readonly intervalMs: number;
  /** Calendar schedule (rotation.schedule); when set, scheduled rotations follow it instead of intervalMs. */
  readonly schedule?: RotationSchedule | undefined;
  /** With a schedule: the shortest gap between its slots (how many keys a ticket lifetime spans). */
  readonly shortestGapMs?: number | undefined;
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
  /**
   * spec.fileFallback: a staged key is promoted no earlier than this after it was staged (and
   * written to the Secret), so any mounted ticket.key a pod may load already holds it. 0 without.
   */
  readonly fileRingHoldMs: number;
}

// The API's defaults and bounds (src/api/defaults.ts, the CRD's one source), in milliseconds.
export const MIN_INTERVAL_MS = parseDuration(MIN_ROTATION_INTERVAL);
export const MAX_TICKET_LIFETIME_MS = parseDuration(MAX_TICKET_LIFETIME);

/** The spec as written (durations as Go strings, everything optional), plus the annotations. */
export interface PolicyInput {
  interval?: string | undefined;
  schedule?: string | undefined;
  timeZone?: string | undefined;
  windows?: readonly { schedule: string; timeZone?: string | undefined; duration: string }[] | undefined;
  startingDeadline?: string | undefined;
  /** Reference time for the schedule's gap statistics (the next year from it); default the wall clock. */
  now?: number | undefined;
  ticketLifetime?: string | undefined;
  promotionPolicy?: PromotionPolicy | undefined;
  promotionTimeout?: string | undefined;
  suspend?: boolean | undefined;
  flushOnRevoke?: boolean | undefined;
  fileFallbackEnabled?: boolean | undefined;
  fileFallbackPropagationDelay?: string | undefined;
  rotateNowToken?: string | undefined;
  revokeToken?: string | undefined;
}

/** An invalid spec; the message matches the CRD's CEL messages. */
export class PolicyError extends Error {
  override name = 'PolicyError';
  readonly problems: readonly string[];
  /** The condition reason: InvalidSchedule for rotation.schedule/timeZone/windows problems. */
  readonly reason: 'InvalidSpec' | 'InvalidSchedule';
  constructor(problems: readonly string[], reason: 'InvalidSpec' | 'InvalidSchedule' = 'InvalidSpec') {
    super(`invalid rotation policy: ${problems.join('; ')}`);
    this.problems = problems;
    this.reason = reason;
  }
}

/** Applies defaults and validates. Throws PolicyError (or DurationError for unparsable durations). */
export function resolvePolicy(input: PolicyInput): RotationPolicy {
  const scheduled = input.schedule === undefined ? undefined : resolveSchedule(input);
  const intervalMs = scheduled ? scheduled.maxGapMs : parseDuration(input.interval ?? DEFAULT_ROTATION_INTERVAL);
  // A schedule's ticket lifetime defaults to its longest gap, capped at the RFC 8446 bound.
  const defaultLifetimeMs = scheduled ? Math.min(intervalMs, MAX_TICKET_LIFETIME_MS) : intervalMs;
  const policy: RotationPolicy = {
    intervalMs,
    ...(scheduled ? { schedule: scheduled.schedule, shortestGapMs: scheduled.minGapMs } : {}),
    ticketLifetimeMs: input.ticketLifetime === undefined ? defaultLifetimeMs : parseDuration(input.ticketLifetime),
    promotionPolicy: input.promotionPolicy ?? 'AllPodsAcknowledged',
    promotionTimeoutMs: parseDuration(input.promotionTimeout ?? DEFAULT_PROMOTION_TIMEOUT),
    suspend: input.suspend ?? false,
    flushOnRevoke: input.flushOnRevoke ?? true,
    fileRingHoldMs: input.fileFallbackEnabled ? parseDuration(input.fileFallbackPropagationDelay ?? DEFAULT_FILE_PROPAGATION_DELAY) : 0,
    rotateNowToken: input.rotateNowToken,
    revokeToken: input.revokeToken,
  };
  const problems = policyProblems(policy);
  if (problems.length > 0) throw new PolicyError(problems);
  return policy;
}

/** Parses rotation.schedule, its zone, windows and deadline; every problem in one PolicyError. */
function resolveSchedule(input: PolicyInput): { schedule: RotationSchedule; maxGapMs: number; minGapMs: number } {
  const problems: string[] = [];
  if (input.interval !== undefined) problems.push('rotation.interval and rotation.schedule are mutually exclusive: set exactly one of them');
  const zone = input.timeZone ?? DEFAULT_TIME_ZONE;
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      if (!(err instanceof ScheduleError || err instanceof DurationError)) throw err;
      problems.push(err.message);
      return undefined;
    }
  };
  const cron = attempt(() => CronSchedule.parse(input.schedule ?? '', zone));
  const windows: MaintenanceWindow[] = [];
  for (const [i, w] of (input.windows ?? []).entries()) {
    const field = `rotation.windows[${i}]`;
    const ws = attempt(() => CronSchedule.parse(w.schedule, w.timeZone ?? zone, { schedule: `${field}.schedule`, timeZone: `${field}.timeZone` }));
    const durationMs = attempt(() => parseDuration(w.duration));
    if (durationMs !== undefined && !(durationMs > 0)) problems.push(`${field}.duration must be positive`);
    if (ws && durationMs !== undefined && durationMs > 0) windows.push({ schedule: ws, durationMs });
  }
  const startingDeadlineMs = input.startingDeadline === undefined ? undefined : attempt(() => parseDuration(input.startingDeadline ?? ''));
  if (startingDeadlineMs !== undefined && !(startingDeadlineMs > 0)) problems.push('rotation.startingDeadline must be positive');
  if (problems.length > 0 || cron === undefined) throw new PolicyError(problems, 'InvalidSchedule');
  // Windows delay rotations: the gaps between the rotations they let through count too.
  const gate =
    windows.length === 0
      ? undefined
      : { key: windows.map((w) => `${w.schedule.timeZone} ${w.schedule.expression} ${w.durationMs}`).join('|'), at: (t: number) => earliestOpenAtOrAfter(windows, t) };
  const gaps = gapStats(cron, input.now ?? Date.now(), gate);
  return { schedule: { schedule: cron, windows, startingDeadlineMs }, maxGapMs: gaps.maxGapMs, minGapMs: gaps.minGapMs };
}

/** The CRD's validation rules, as readable messages (empty when valid). */
export function policyProblems(p: RotationPolicy): string[] {
  const problems: string[] = [];
  if (!p.schedule && !(p.intervalMs >= MIN_INTERVAL_MS)) problems.push(`rotation.interval must be at least ${MIN_ROTATION_INTERVAL}`);
  if (!(p.ticketLifetimeMs > 0)) problems.push('ticketLifetime must be positive');
  if (!(p.ticketLifetimeMs <= MAX_TICKET_LIFETIME_MS)) {
    problems.push(`ticketLifetime must be at most ${MAX_TICKET_LIFETIME} (7 days, RFC 8446)`);
  }
  if (!(p.promotionTimeoutMs > 0)) problems.push('promotion.timeout must be positive');
  // A schedule's slots may be closer than the timeout: a slot that comes while a key is still
  // staged is then simply not rotated for (the next one is); policyWarnings says so.
  if (!p.schedule && !(p.promotionTimeoutMs < p.intervalMs)) problems.push('promotion.timeout must be shorter than rotation.interval');
  if (p.fileRingHoldMs > 0 && p.promotionPolicy === 'Immediate') {
    problems.push('fileFallback needs promotion.policy AllPodsAcknowledged: with Immediate a new key encrypts before the mounted ticket.key can hold it');
  }
  if (p.fileRingHoldMs > 0 && !(p.fileRingHoldMs < (p.shortestGapMs ?? p.intervalMs))) {
    problems.push(`fileFallback.propagationDelay must be shorter than ${p.schedule ? 'the shortest gap between scheduled rotations' : 'rotation.interval'}`);
  }
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
  // With a schedule the densest stretch counts: the shortest gap between slots.
  return Math.ceil((p.ticketLifetimeMs + p.promotionTimeoutMs) / (p.shortestGapMs ?? p.intervalMs));
}

/** Advisory messages for a valid but questionable policy: the reconciler records each as a Warning Event (reason PolicyWarning), once per spec generation. */
export function policyWarnings(p: RotationPolicy): string[] {
  const warnings: string[] = [];
  const room = MAX_RING_KEYS - 2;
  const period = p.shortestGapMs ?? p.intervalMs;
  if (retiredKeysNeeded(p) > room) {
    warnings.push(
      `ticketLifetime + promotion.timeout (${formatDuration(p.ticketLifetimeMs + p.promotionTimeoutMs)}) spans more ` +
        `than ${room} ${p.schedule ? 'gaps between scheduled rotations' : 'intervals'} of ${formatDuration(period)}; ` +
        `rotations will be deferred so the ring stays within ${MAX_RING_KEYS} keys`,
    );
  }
  if (p.schedule && p.promotionTimeoutMs >= period) {
    warnings.push(
      `promotion.timeout (${formatDuration(p.promotionTimeoutMs)}) is not shorter than the shortest gap between scheduled ` +
        `rotations (${formatDuration(period)}); slots that come while a key is still staged are not rotated for`,
    );
  }
  return warnings;
}
