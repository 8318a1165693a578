// Calendar schedules: validation messages, fire times in IANA zones across DST, windows, and the
// due-rotation decision (missed slots, starting deadline, window gating), all with fixed clocks.
import { describe, expect, it } from '@jest/globals';
import {
  CronSchedule,
  ScheduleError,
  decideScheduledRotation,
  expressionProblem,
  gapStats,
  nextScheduledAfter,
  timeZoneProblem,
  windowStateAt,
  type MaintenanceWindow,
  type RotationSchedule,
} from '../../../../src/core/schedule/index.ts';

const T = (iso: string): number => Date.parse(iso);
const H = 3_600_000;
const M = 60_000;
const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
const fires = (s: CronSchedule, from: string, n: number): string[] => s.nextN(T(from), n).map((t) => new Date(t).toISOString());

describe('validation', () => {
  it.each([
    ['0 3 * * *'],
    ['*/15 * * * *'],
    ['30 2 * * 1-5'],
    ['0 0 1 JAN *'],
    ['0 4 * * MON,THU'],
    ['@daily'],
    ['@hourly'],
    ['@weekly'],
    ['@monthly'],
    ['@yearly'],
    ['@annually'],
    ['@midnight'],
    ['  0 3 * * *  '],
  ])('accepts %j', (e) => {
    expect(expressionProblem(e)).toBeUndefined();
    expect(() => CronSchedule.parse(e, 'Europe/Berlin')).not.toThrow();
  });

  it.each([
    ['', /1 to 128 characters/],
    ['0 0 * * * *', /has 6 field\(s\); it needs exactly 5 .*seconds are not supported/],
    ['* * * *', /has 4 field\(s\); it needs exactly 5/],
    ['0 0 * * * * *', /has 7 field\(s\)/],
    ['61 * * * *', /Invalid value for minute: 61/],
    ['0 24 * * *', /hour/],
    ['0 0 32 * *', /day/i],
    ['0 0 * 13 *', /month/i],
    ['0 0 * * 8', /week/i],
    ['@reboot', /"@reboot" is not a supported macro/],
    ['@every 5m', /not a supported macro/],
    ['0 0 * * $', /day-of-week field "\$" has characters/],
    ['a b c d e', /illegal characters|cannot have/],
    ['x'.repeat(200), /1 to 128 characters/],
  ])('rejects %j with a readable message', (e, message) => {
    const problem = expressionProblem(e);
    expect(problem).toMatch(/^rotation\.schedule /);
    expect(problem).toMatch(message);
    expect(() => CronSchedule.parse(e, 'UTC')).toThrow(ScheduleError);
  });

  it('rejects a schedule that never fires', () => {
    expect(() => CronSchedule.parse('0 0 31 2 *', 'UTC')).toThrow(/never fires/);
  });

  it('accepts IANA zones and rejects unknown ones', () => {
    for (const z of ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata']) expect(timeZoneProblem(z)).toBeUndefined();
    expect(timeZoneProblem('Mars/Olympus_Mons')).toMatch(/rotation\.timeZone "Mars\/Olympus_Mons" is not a known IANA time zone/);
    expect(timeZoneProblem('')).toMatch(/1 to 64 characters/);
    expect(() => CronSchedule.parse('@daily', 'Europe/Berln')).toThrow(/not a known IANA time zone/);
  });
});

describe('fire times in a zone', () => {
  it('is strictly after t', () => {
    const s = CronSchedule.parse('0 3 * * *', 'Europe/Berlin');
    expect(iso(s.next(T('2026-01-10T02:00:00Z')))).toBe('2026-01-11T02:00:00.000Z');
    expect(iso(s.next(T('2026-01-10T01:59:59.999Z')))).toBe('2026-01-10T02:00:00.000Z');
    expect(iso(s.previous(T('2026-01-10T02:00:00Z')))).toBe('2026-01-10T02:00:00.000Z');
  });

  it('fires at local times in each zone', () => {
    expect(fires(CronSchedule.parse('0 3 * * *', 'Asia/Kolkata'), '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T21:30:00.000Z']);
    expect(fires(CronSchedule.parse('0 3 * * *', 'America/New_York'), '2026-07-01T00:00:00Z', 1)).toEqual(['2026-07-01T07:00:00.000Z']);
    expect(fires(CronSchedule.parse('@daily', 'UTC'), '2026-07-01T00:00:00Z', 1)).toEqual(['2026-07-02T00:00:00.000Z']);
  });

  it('spring forward: 02:30 Europe/Berlin on the missing hour fires once at 03:00 CEST, no skipped day', () => {
    const s = CronSchedule.parse('30 2 * * *', 'Europe/Berlin');
    expect(fires(s, '2026-03-28T00:00:00Z', 3)).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  it('fall back: 02:30 Europe/Berlin on the repeated hour fires once (first occurrence), no double rotation', () => {
    const s = CronSchedule.parse('30 2 * * *', 'Europe/Berlin');
    expect(fires(s, '2026-10-24T00:00:00Z', 3)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('America/New_York: 02:30 on spring-forward day fires at 03:00 EDT; 01:30 on fall-back day fires once', () => {
    expect(fires(CronSchedule.parse('30 2 * * *', 'America/New_York'), '2026-03-08T00:00:00Z', 1)).toEqual(['2026-03-08T07:00:00.000Z']);
    expect(fires(CronSchedule.parse('30 1 * * *', 'America/New_York'), '2026-11-01T00:00:00Z', 2)).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });

  it('Australia/Lord_Howe (30-minute DST): 02:15 on the spring-forward day fires at 02:30, once', () => {
    // 2026-10-04 02:00 +10:30 jumps to 02:30 +11:00.
    expect(fires(CronSchedule.parse('15 2 * * *', 'Australia/Lord_Howe'), '2026-10-02T12:00:00Z', 3)).toEqual([
      '2026-10-02T15:45:00.000Z', // Oct 3 02:15 +10:30
      '2026-10-03T15:30:00.000Z', // Oct 4 02:30 +11:00, the end of the gap
      '2026-10-04T15:15:00.000Z', // Oct 5 02:15 +11:00
    ]);
  });

  it('an interval schedule fires on both occurrences of a repeated hour (they are an hour apart) and not in a gap', () => {
    const s = CronSchedule.parse('0 * * * *', 'Europe/Berlin');
    expect(fires(s, '2026-10-24T23:30:00Z', 4)).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
    expect(fires(s, '2026-03-29T00:30:00Z', 2)).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z']);
  });
});

describe('gap statistics', () => {
  it('daily in a DST zone: longest gap 25 h, shortest 23 h', () => {
    const g = gapStats(CronSchedule.parse('0 3 * * *', 'Europe/Berlin'), T('2026-01-01T00:00:00Z'));
    expect(g.maxGapMs).toBe(25 * H);
    expect(g.minGapMs).toBe(23 * H);
  });

  it('a dense schedule with a long pause: the pause is measured', () => {
    // Every minute on weekdays 09:00-09:59: the weekend gap dominates.
    const g = gapStats(CronSchedule.parse('* 9 * * 1-5', 'UTC'), T('2026-01-01T00:00:00Z'));
    expect(g.minGapMs).toBe(M);
    expect(g.maxGapMs).toBe(3 * 24 * H - 59 * M);
  });

  it('every minute on January 1st only: the year-long gap is found', () => {
    const g = gapStats(CronSchedule.parse('* * 1 1 *', 'UTC'), T('2026-01-01T00:00:00Z'));
    expect(g.maxGapMs).toBe(365 * 24 * H - 1439 * M);
  });
});

const window = (expr: string, zone: string, durationMs: number): MaintenanceWindow => ({
  schedule: CronSchedule.parse(expr, zone, { schedule: 'windows[0].schedule', timeZone: 'windows[0].timeZone' }),
  durationMs,
});

describe('maintenance windows', () => {
  const tuesday = window('0 2 * * 2', 'Europe/Berlin', 4 * H); // Tuesdays 02:00-06:00 Berlin
  it('is open from the fire time for the duration', () => {
    expect(windowStateAt([tuesday], T('2026-01-06T01:00:00Z'))).toEqual({ open: true, opensAt: T('2026-01-06T01:00:00Z'), closesAt: T('2026-01-06T05:00:00Z') });
    expect(windowStateAt([tuesday], T('2026-01-06T04:59:59Z')).open).toBe(true);
    expect(windowStateAt([tuesday], T('2026-01-06T05:00:00Z'))).toEqual({ open: false, opensAt: T('2026-01-13T01:00:00Z'), closesAt: T('2026-01-13T05:00:00Z') });
    expect(windowStateAt([tuesday], T('2026-01-06T00:59:00Z')).opensAt).toBe(T('2026-01-06T01:00:00Z'));
  });

  it('no windows: always open', () => {
    expect(windowStateAt([], T('2026-01-06T00:00:00Z'))).toEqual({ open: true });
  });

  it('several windows: the earliest next opening', () => {
    const daily = window('0 22 * * *', 'UTC', H);
    expect(windowStateAt([tuesday, daily], T('2026-01-05T12:00:00Z')).opensAt).toBe(T('2026-01-05T22:00:00Z'));
    expect(windowStateAt([tuesday, daily], T('2026-01-05T22:30:00Z')).open).toBe(true);
  });
});

describe('the due-rotation decision', () => {
  const daily3: RotationSchedule = { schedule: CronSchedule.parse('0 3 * * *', 'UTC'), windows: [] };

  it('not yet: reports the next slot', () => {
    const d = decideScheduledRotation(daily3, T('2026-01-01T03:00:00Z'), T('2026-01-01T12:00:00Z'));
    expect(d).toMatchObject({ due: false, reason: 'NotYet', nextRotationTime: T('2026-01-02T03:00:00Z') });
  });

  it('due at the slot', () => {
    const d = decideScheduledRotation(daily3, T('2026-01-01T03:00:05Z'), T('2026-01-02T03:00:00Z'));
    expect(d).toMatchObject({ due: true, reason: 'Due', slot: T('2026-01-02T03:00:00Z') });
  });

  it('after many missed slots: one catch-up rotation for the latest, then the next slot', () => {
    const last = T('2026-01-01T03:00:00Z');
    const now = T('2026-01-10T12:00:00Z');
    const d = decideScheduledRotation(daily3, last, now);
    expect(d).toMatchObject({ due: true, slot: T('2026-01-10T03:00:00Z') });
    // The rotation happened now: nothing else is due until the next slot (no burst).
    expect(decideScheduledRotation(daily3, now, now + 1000)).toMatchObject({ due: false, reason: 'NotYet', nextRotationTime: T('2026-01-11T03:00:00Z') });
  });

  it('a missed slot older than the starting deadline is skipped; the next slot is waited for', () => {
    const rs = { ...daily3, startingDeadlineMs: H };
    expect(decideScheduledRotation(rs, T('2026-01-01T03:00:00Z'), T('2026-01-05T03:59:00Z'))).toMatchObject({ due: true });
    const d = decideScheduledRotation(rs, T('2026-01-01T03:00:00Z'), T('2026-01-05T04:01:00Z'));
    expect(d).toMatchObject({ due: false, reason: 'MissedDeadline', slot: T('2026-01-05T03:00:00Z'), nextRotationTime: T('2026-01-06T03:00:00Z') });
    // Stable: asked again later, still skipped, until the next slot comes.
    expect(decideScheduledRotation(rs, T('2026-01-01T03:00:00Z'), T('2026-01-05T20:00:00Z')).due).toBe(false);
    expect(decideScheduledRotation(rs, T('2026-01-01T03:00:00Z'), T('2026-01-06T03:00:00Z')).due).toBe(true);
  });

  it('a slot outside every window waits for the next opening, then rotates once', () => {
    const rs: RotationSchedule = { schedule: CronSchedule.parse('0 12 * * *', 'UTC'), windows: [window('0 2 * * *', 'UTC', 2 * H)] };
    const last = T('2026-01-01T02:30:00Z');
    const waiting = decideScheduledRotation(rs, last, T('2026-01-01T13:00:00Z'));
    expect(waiting).toMatchObject({ due: false, reason: 'WaitingForWindow', slot: T('2026-01-01T12:00:00Z'), nextRotationTime: T('2026-01-02T02:00:00Z') });
    expect(waiting.window).toEqual({ open: false, opensAt: T('2026-01-02T02:00:00Z'), closesAt: T('2026-01-02T04:00:00Z') });
    expect(decideScheduledRotation(rs, last, T('2026-01-02T02:00:00Z'))).toMatchObject({ due: true, slot: T('2026-01-01T12:00:00Z') });
    // Before the slot, the next rotation reported is the first window opening after it.
    expect(decideScheduledRotation(rs, last, T('2026-01-01T05:00:00Z')).nextRotationTime).toBe(T('2026-01-02T02:00:00Z'));
    expect(nextScheduledAfter(rs, last)).toBe(T('2026-01-02T02:00:00Z'));
  });

  it('with windows, the starting deadline counts from the window opening', () => {
    const rs: RotationSchedule = { schedule: CronSchedule.parse('0 12 * * *', 'UTC'), windows: [window('0 2 * * *', 'UTC', 2 * H)], startingDeadlineMs: 30 * M };
    const last = T('2026-01-01T02:30:00Z');
    expect(decideScheduledRotation(rs, last, T('2026-01-02T02:20:00Z')).due).toBe(true);
    expect(decideScheduledRotation(rs, last, T('2026-01-02T02:40:00Z'))).toMatchObject({ due: false, reason: 'MissedDeadline' });
  });

  it('DST fall back: a rotation at the first 02:30 is not repeated at the second', () => {
    const rs: RotationSchedule = { schedule: CronSchedule.parse('30 2 * * *', 'Europe/Berlin'), windows: [] };
    const first = T('2026-10-25T00:30:00Z'); // 02:30 CEST
    expect(decideScheduledRotation(rs, T('2026-10-24T00:30:00Z'), first).due).toBe(true);
    expect(decideScheduledRotation(rs, first + 5000, T('2026-10-25T01:30:00Z')).due).toBe(false); // 02:30 CET
    expect(decideScheduledRotation(rs, first + 5000, T('2026-10-25T01:30:00Z')).nextRotationTime).toBe(T('2026-10-26T01:30:00Z'));
  });

  it('DST spring forward: the day with no 02:30 still rotates (at 03:00 CEST)', () => {
    const rs: RotationSchedule = { schedule: CronSchedule.parse('30 2 * * *', 'Europe/Berlin'), windows: [] };
    const last = T('2026-03-28T01:30:05Z');
    expect(decideScheduledRotation(rs, last, T('2026-03-29T00:59:00Z')).due).toBe(false);
    expect(decideScheduledRotation(rs, last, T('2026-03-29T01:00:00Z'))).toMatchObject({ due: true, slot: T('2026-03-29T01:00:00Z') });
  });
});
