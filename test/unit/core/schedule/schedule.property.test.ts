// Property tests of the schedule core against a brute-force reference that walks real time
// minute by minute and reads the wall clock of the zone through Intl (no cron library), with
// Vixie-cron DST rules: fixed-time schedules fire once at the first occurrence of a repeated
// wall time and at the end of a gap that swallowed their wall time; interval schedules fire at
// every real minute whose wall time matches.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CronSchedule, decideScheduledRotation, windowStateAt, type MaintenanceWindow, type RotationSchedule } from '../../../../src/core/schedule/index.ts';

const M = 60_000;
const H = 60 * M;
const D = 24 * H;
const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC'] as const;
// DST transitions (and ordinary days) to start scanning near.
const STARTS = [
  '2026-03-29T00:00:00Z', // Europe spring forward
  '2026-10-25T00:00:00Z', // Europe fall back
  '2026-03-08T06:00:00Z', // US spring forward
  '2026-11-01T05:00:00Z', // US fall back
  '2026-04-04T14:00:00Z', // Lord Howe fall back (02:00 -> 01:30)
  '2026-10-03T15:00:00Z', // Lord Howe spring forward (02:00 -> 02:30)
  '2026-06-15T00:00:00Z',
  '2027-01-31T12:00:00Z',
].map((s) => Date.parse(s));

interface Field {
  text: string;
  values: Set<number>;
  star: boolean;
}
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const fieldArb = (min: number, max: number, steps: number[], hot: number[], starWeight: number, starMax = max): fc.Arbitrary<Field> => {
  // Explicit days stop at 28 (every month has them); `*` and steps cover the whole field.
  const value = fc.oneof(fc.integer({ min, max }), fc.constantFrom(...hot));
  return fc.oneof(
    { weight: starWeight, arbitrary: fc.constant({ text: '*', values: new Set(range(min, starMax)), star: true }) },
    { weight: 1, arbitrary: fc.constantFrom(...steps).map((n) => ({ text: `*/${n}`, values: new Set(range(min, starMax).filter((v) => (v - min) % n === 0)), star: true })) },
    { weight: 3, arbitrary: value.map((v) => ({ text: `${v}`, values: new Set([v]), star: false })) },
    {
      weight: 1,
      arbitrary: fc.uniqueArray(value, { minLength: 2, maxLength: 3 }).map((vs) => {
        const sorted = [...vs].sort((a, b) => a - b);
        return { text: sorted.join(','), values: new Set(sorted), star: false };
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(value, fc.integer({ min: 1, max: 4 })).map(([a, n]) => {
        const b = Math.min(max, a + n);
        return { text: a === b ? `${a}` : `${a}-${b}`, values: new Set(range(a, b)), star: false };
      }),
    },
  );
};

interface Expr {
  text: string;
  minute: Field;
  hour: Field;
  dom: Field;
  month: Field;
  dow: Field;
}
const exprArb: fc.Arbitrary<Expr> = fc
  .record({
    minute: fieldArb(0, 59, [5, 15, 20, 30], [0, 15, 30, 45], 1),
    hour: fieldArb(0, 23, [2, 3, 6], [0, 1, 2, 3], 1),
    dom: fieldArb(1, 28, [2], [1, 15], 6, 31),
    month: fieldArb(1, 12, [3], [1, 3, 4, 10, 11], 8),
    dow: fieldArb(0, 6, [2], [0, 6], 6),
  })
  .map((f) => ({ ...f, text: [f.minute, f.hour, f.dom, f.month, f.dow].map((x) => x.text).join(' ') }));

/**
 * Wall-clock time of `t` in `zone`, as the UTC instant with the same fields ("naive" time). The
 * offset is read through Intl once per quarter hour (every transition of these zones falls on one).
 */
function wallClock(zone: string): (t: number) => number {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
  const offsets = new Map<number, number>();
  const Q = 15 * M;
  return (t) => {
    const q = Math.floor(t / Q) * Q;
    let offset = offsets.get(q);
    if (offset === undefined) {
      const p: Record<string, number> = {};
      for (const part of fmt.formatToParts(q)) if (part.type !== 'literal') p[part.type] = Number(part.value);
      offset = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!) - q;
      offsets.set(q, offset);
    }
    return Math.floor(t / M) * M + offset;
  };
}

function matchesWall(e: Expr, wall: number): boolean {
  const d = new Date(wall);
  if (!e.minute.values.has(d.getUTCMinutes()) || !e.hour.values.has(d.getUTCHours()) || !e.month.values.has(d.getUTCMonth() + 1)) return false;
  const dom = e.dom.values.has(d.getUTCDate());
  const dow = e.dow.values.has(d.getUTCDay());
  // Both day fields restricted: either may match. As CronJob's robfig/cron (and unlike Vixie
  // cron), a step such as `*/2` restricts; only a bare `*` leaves a day field unrestricted.
  return e.dom.text !== '*' && e.dow.text !== '*' ? dom || dow : dom && dow;
}

/** Brute-force fire times in [from, to): one look at the wall clock per real minute. */
function referenceFires(e: Expr, zone: string, from: number, to: number): number[] {
  const wallOf = wallClock(zone);
  const fixed = !e.minute.star && !e.hour.star;
  const out: number[] = [];
  const fired = new Set<number>();
  let prevWall = wallOf(from - M);
  for (let t = from; t < to; t += M) {
    const wall = wallOf(t);
    let fire = false;
    if (matchesWall(e, wall) && !(fixed && fired.has(wall))) fire = true;
    if (fixed && wall - prevWall > M) {
      // A gap: wall times it swallowed fire once, at its end.
      for (let w = prevWall + M; w < wall; w += M) if (matchesWall(e, w)) fire = true;
    }
    if (fire) out.push(t);
    if (fixed) fired.add(wall);
    prevWall = wall;
  }
  return out;
}

const startArb = fc.tuple(fc.constantFrom(...STARTS), fc.integer({ min: -36, max: 12 })).map(([s, h]) => s + h * H);

describe('fire times match the minute-by-minute reference', () => {
  it.each(ZONES)('%s', (zone) => {
    fc.assert(
      fc.property(exprArb, startArb, (e, start) => {
        const schedule = CronSchedule.parse(e.text, zone);
        // The reference starts a day early so "first occurrence" is judged with history.
        const ref = referenceFires(e, zone, start - D, start + 3 * D).filter((t) => t > start);
        const got: number[] = [];
        for (let t = schedule.next(start); t !== undefined && t < start + 3 * D; t = schedule.next(t)) got.push(t);
        expect(got.map((t) => new Date(t).toISOString())).toEqual(ref.map((t) => new Date(t).toISOString()));
        // previous() agrees too.
        if (ref.length > 1) expect(schedule.previous(ref[1]! + 30_000)).toBe(ref[1]);
      }),
      { numRuns: 150 },
    );
  });
});

const windowArb = fc.record({
  expr: exprArb,
  zone: fc.constantFrom(...ZONES),
  durationMin: fc.integer({ min: 1, max: 6 * 60 }),
});

describe('the due-rotation decision matches the reference', () => {
  it('over random schedules, zones, windows, deadlines and clocks', () => {
    fc.assert(
      fc.property(
        exprArb,
        fc.constantFrom(...ZONES),
        fc.option(windowArb, { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 12 * 60 }), { nil: undefined }),
        startArb,
        fc.integer({ min: 0, max: 2 * 24 * 60 }),
        fc.integer({ min: 0, max: 24 * 60 }),
        fc.integer({ min: 0, max: 59_999 }),
        (e, zone, w, deadlineMin, start, lastOffsetMin, waitMin, jitter) => {
          const rs: RotationSchedule = {
            schedule: CronSchedule.parse(e.text, zone),
            windows: w ? [{ schedule: CronSchedule.parse(w.expr.text, w.zone), durationMs: w.durationMin * M }] : [],
            startingDeadlineMs: deadlineMin === undefined ? undefined : deadlineMin * M,
          };
          const last = start + lastOffsetMin * M + jitter;
          const now = last + waitMin * M + jitter;
          const lo = start - 2 * D;
          const hi = start + 8 * D;
          const fires = referenceFires(e, zone, lo, hi);
          const wfires = w ? referenceFires(w.expr, w.zone, lo, hi) : [];
          // When the window open at t opened (no windows: open since forever).
          const openAt = (t: number): number | undefined => (w ? wfires.find((f) => f <= t && t < f + w.durationMin * M) : -Infinity);
          const nextOpening = (t: number): number | undefined => wfires.find((f) => f > t);
          const eligible = (t: number | undefined): number | undefined => (t === undefined ? undefined : openAt(t) !== undefined ? t : nextOpening(t));

          const first = fires.find((f) => f > last);
          const slot = fires.filter((f) => f <= now).pop();
          let expected: { due: boolean; reason: string; nextRotationTime: number | undefined };
          if (first === undefined || first > now) {
            expected = { due: false, reason: 'NotYet', nextRotationTime: eligible(first) };
          } else if (openAt(now) === undefined) {
            expected = { due: false, reason: 'WaitingForWindow', nextRotationTime: nextOpening(now) };
          } else {
            const since = Math.max(slot!, openAt(now)!);
            expected =
              deadlineMin !== undefined && now - since > deadlineMin * M
                ? { due: false, reason: 'MissedDeadline', nextRotationTime: eligible(fires.find((f) => f > now)) }
                : { due: true, reason: 'Due', nextRotationTime: now };
          }
          // Past the reference's horizon nothing can be compared.
          fc.pre(first !== undefined && expected.nextRotationTime !== undefined && expected.nextRotationTime < hi - D);
          const got = decideScheduledRotation(rs, last, now);
          expect({ due: got.due, reason: got.reason, nextRotationTime: got.nextRotationTime }).toEqual(expected);
          expect(got.window.open).toBe(openAt(now) !== undefined);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('an operator polling each minute through an outage rotates at most once per slot and catches up once', () => {
    fc.assert(
      fc.property(
        exprArb,
        fc.constantFrom(...ZONES),
        startArb,
        fc.integer({ min: 0, max: 24 * 60 }),
        fc.integer({ min: 0, max: 36 * 60 }),
        (e, zone, start, outageStartMin, outageMin) => {
          const rs: RotationSchedule = { schedule: CronSchedule.parse(e.text, zone), windows: [] };
          const end = start + 3 * D;
          const fires = referenceFires(e, zone, start - D, end).filter((f) => f > start);
          const down = [start + outageStartMin * M, start + (outageStartMin + outageMin) * M];
          let last = start;
          const rotations: number[] = [];
          // A fast schedule is polled every minute; decisions are cheap enough for three days.
          for (let now = start + M; now < end; now += M) {
            if (now >= down[0]! && now < down[1]!) continue;
            if (decideScheduledRotation(rs, last, now).due) {
              rotations.push(now);
              last = now;
            }
          }
          // Between two rotations there is always a slot: no burst, no double rotation.
          let prev = start;
          for (const r of rotations) {
            expect(fires.some((f) => f > prev && f <= r)).toBe(true);
            prev = r;
          }
          // While up, every slot is rotated at its own minute (no skipped day, DST or not).
          for (const f of fires) if (f < down[0]! || f >= down[1]!) expect(rotations).toContain(f);
          // After the outage, at most one rotation happens before the first slot after it.
          const firstAfter = fires.find((f) => f >= down[1]!) ?? Infinity;
          expect(rotations.filter((r) => r >= down[1]! && r < firstAfter).length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('window state matches the reference', () => {
  it('open/closed, opensAt and closesAt', () => {
    fc.assert(
      fc.property(windowArb, startArb, fc.integer({ min: 0, max: 2 * 24 * 60 }), (w, start, offsetMin) => {
        const win: MaintenanceWindow = { schedule: CronSchedule.parse(w.expr.text, w.zone), durationMs: w.durationMin * M };
        const t = start + offsetMin * M;
        const wfires = referenceFires(w.expr, w.zone, start - 2 * D, start + 8 * D);
        const open = wfires.filter((f) => f <= t && t < f + win.durationMs);
        const got = windowStateAt([win], t);
        if (open.length > 0) {
          expect(got).toEqual({ open: true, opensAt: open[0], closesAt: open[open.length - 1]! + win.durationMs });
        } else {
          const n = wfires.find((f) => f > t);
          fc.pre(n !== undefined && n < start + 7 * D);
          expect(got).toEqual({ open: false, opensAt: n, closesAt: n! + win.durationMs });
        }
      }),
      { numRuns: 150 },
    );
  });
});
