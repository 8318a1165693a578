// Calendar schedules for rotations: 5-field cron expressions (or @daily-style macros) in an IANA
// time zone, evaluated by croner (maintained, no dependencies, IANA zones through Intl, Vixie-cron
// DST rules). This module only validates and asks for fire times; it never schedules timers.
//
// DST (croner with fixedTimeRule "no-wildcard", as Vixie cron and close to CronJob):
//   - a fixed-time schedule (no `*` or step in the minute and hour fields, e.g. `30 2 * * *`
//     or `0 3,15 * * *`) whose wall time falls in a spring-forward gap fires once at the first
//     valid instant after the gap, on the same day (02:30 Europe/Berlin on the last Sunday of
//     March fires at 03:00 CEST): no skipped day. A wall time that occurs twice (fall back)
//     fires once, at its first occurrence: no double rotation.
//   - an interval schedule (`*` or a step in the minute or hour field, e.g. `0 * * * *`) fires
//     at every real instant whose wall time matches: both occurrences of a repeated hour (they
//     are an hour apart in real time) and none inside a gap.
import { Cron } from 'croner';

import { MAX_SCHEDULE_LENGTH, MAX_TIME_ZONE_LENGTH, SCHEDULE_MACROS } from '../../api/schedule-bounds.ts';

export { MAX_SCHEDULE_LENGTH, MAX_TIME_ZONE_LENGTH, SCHEDULE_MACROS };
/** Characters a field may use: numbers, names (JAN, MON), `*`, `/`, `,`, `-`, and croner's `?`, `L`, `W`, `#`. */
const FIELD = /^[0-9A-Za-z*/,?#-]+$/;
/** A schedule must fire at least once within this horizon (e.g. `0 0 31 2 *` never does). */
const FIRE_HORIZON_MS = 5 * 366 * 24 * 3_600_000;

/** An unusable schedule, time zone or window; `message` is what the user reads. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** Why `zone` is not a usable IANA time zone name, or undefined when it is. */
export function timeZoneProblem(zone: string, field = 'rotation.timeZone'): string | undefined {
  if (zone.length === 0 || zone.length > MAX_TIME_ZONE_LENGTH) return `${field} must be an IANA time zone name of 1 to ${MAX_TIME_ZONE_LENGTH} characters (e.g. Europe/Berlin)`;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    return `${field} "${zone}" is not a known IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)`;
  }
  return undefined;
}

/** Why `expression` is not a 5-field cron expression or macro, or undefined when it is. */
export function expressionProblem(expression: string, field = 'rotation.schedule'): string | undefined {
  const e = expression.trim();
  if (e.length === 0 || expression.length > MAX_SCHEDULE_LENGTH) return `${field} must be a cron expression of 1 to ${MAX_SCHEDULE_LENGTH} characters`;
  if (e.startsWith('@')) {
    return (SCHEDULE_MACROS as readonly string[]).includes(e.toLowerCase())
      ? undefined
      : `${field} "${e}" is not a supported macro (use one of ${SCHEDULE_MACROS.join(', ')} or 5 fields: minute hour day-of-month month day-of-week)`;
  }
  const fields = e.split(/\s+/);
  if (fields.length !== 5) {
    return (
      `${field} "${e}" has ${fields.length} field(s); it needs exactly 5 (minute hour day-of-month month day-of-week)` +
      (fields.length === 6 ? ': seconds are not supported' : '')
    );
  }
  const names = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
  for (const [i, f] of fields.entries()) {
    if (!FIELD.test(f)) return `${field} "${e}": the ${names[i]} field "${f}" has characters a cron field cannot have`;
  }
  try {
    cronFor(e, 'UTC');
  } catch (err) {
    return `${field} "${e}": ${cronMessage(err)}`;
  }
  return undefined;
}

function cronMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/^CronPattern:\s*/, '');
}

function cronFor(expression: string, timeZone: string): Cron {
  // No function: croner schedules nothing, it only evaluates.
  return new Cron(expression.trim(), { timezone: timeZone, mode: '5-part', fixedTimeRule: 'no-wildcard', domAndDow: false });
}

/** A validated schedule in a zone: fire times as epoch milliseconds. */
export class CronSchedule {
  readonly expression: string;
  readonly timeZone: string;
  private readonly cron: Cron;

  private constructor(expression: string, timeZone: string, cron: Cron) {
    this.expression = expression;
    this.timeZone = timeZone;
    this.cron = cron;
  }

  /** Validates; throws ScheduleError with a readable message. */
  static parse(expression: string, timeZone = 'UTC', fields = { schedule: 'rotation.schedule', timeZone: 'rotation.timeZone' }): CronSchedule {
    const problem = timeZoneProblem(timeZone, fields.timeZone) ?? expressionProblem(expression, fields.schedule);
    if (problem !== undefined) throw new ScheduleError(problem);
    const schedule = new CronSchedule(expression.trim(), timeZone, cronFor(expression, timeZone));
    // 5-field schedules repeat within a few years (29 February: 4), so one fixed reference decides.
    if (schedule.next(Date.UTC(2026, 0, 1)) === undefined) {
      throw new ScheduleError(`${fields.schedule} "${expression.trim()}" never fires (no matching date)`);
    }
    return schedule;
  }

  /** The first fire time strictly after `afterMs`, or undefined when there is none within 5 years. */
  next(afterMs: number): number | undefined {
    const d = this.cron.nextRun(new Date(afterMs));
    if (d === null) return undefined;
    const t = d.getTime();
    return t - afterMs <= FIRE_HORIZON_MS ? t : undefined;
  }

  /** The last fire time at or before `atMs`, or undefined when there is none within 5 years. */
  previous(atMs: number): number | undefined {
    const [d] = this.cron.previousRuns(1, new Date(atMs + 1));
    if (d === undefined) return undefined;
    const t = d.getTime();
    return atMs - t <= FIRE_HORIZON_MS ? t : undefined;
  }

  /** The next `count` fire times strictly after `afterMs`. */
  nextN(afterMs: number, count: number): number[] {
    const out: number[] = [];
    let t = afterMs;
    while (out.length < count) {
      const n = this.next(t);
      if (n === undefined) break;
      out.push(n);
      t = n;
    }
    return out;
  }
}

export interface GapStats {
  /** Longest real time between consecutive rotations over the year after `from`. */
  readonly maxGapMs: number;
  /** Shortest real time between consecutive rotations seen (first ones of that year). */
  readonly minGapMs: number;
}

const YEAR_MS = 366 * 24 * 3_600_000;
const MAX_ENUMERATED = 2000;
const PROBE_STEP_MS = 6 * 3_600_000;
const gapCache = new Map<string, GapStats>();

/**
 * Gap statistics for retention and warnings. Consecutive slots are enumerated (up to 2000) and,
 * for dense schedules, the year is also probed every 6 hours for the gap around each probe, so
 * every gap longer than 6 hours is measured exactly. With windows, the rotations a window delays
 * are enumerated too (`gate`: the first instant at or after a slot at which it may rotate), and
 * the longer gaps count. Cached per schedule, windows and day.
 */
export function gapStats(schedule: CronSchedule, from: number, gate?: { key: string; at: (t: number) => number | undefined }): GapStats {
  const key = `${schedule.timeZone}\u0000${schedule.expression}\u0000${gate?.key ?? ''}\u0000${Math.floor(from / 86_400_000)}`;
  const cached = gapCache.get(key);
  if (cached) return cached;
  const end = from + YEAR_MS;
  const slots = enumerateGaps((t) => schedule.next(t), from, end);
  let maxGap = slots.maxGap;
  let minGap = slots.minGap;
  if (slots.last !== undefined && slots.last < end) {
    for (let p = slots.last; p < end; p += PROBE_STEP_MS) {
      const before = schedule.previous(p);
      const after = schedule.next(p);
      if (before !== undefined && after !== undefined) maxGap = Math.max(maxGap, after - before);
    }
  }
  if (gate) {
    const gated = enumerateGaps((t) => {
      const n = schedule.next(t);
      return n === undefined ? undefined : gate.at(n);
    }, from, end);
    maxGap = Math.max(maxGap, gated.maxGap);
    minGap = gated.minGap;
  }
  const stats: GapStats = { maxGapMs: maxGap, minGapMs: Number.isFinite(minGap) ? minGap : maxGap };
  if (gapCache.size > 256) gapCache.clear();
  gapCache.set(key, stats);
  return stats;
}

function enumerateGaps(next: (t: number) => number | undefined, from: number, end: number): { maxGap: number; minGap: number; last: number | undefined } {
  let maxGap = 0;
  let minGap = Infinity;
  let prev = next(from);
  for (let count = 0; prev !== undefined && prev < end && count < MAX_ENUMERATED; count++) {
    const n = next(prev);
    if (n === undefined) break;
    maxGap = Math.max(maxGap, n - prev);
    minGap = Math.min(minGap, n - prev);
    prev = n;
  }
  return { maxGap, minGap, last: prev };
}
