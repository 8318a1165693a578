// The due-rotation decision for calendar schedules, as one pure function of the last rotation
// time and now (level-triggered: asking twice gives the same answer).
//
//   - Slots are the schedule's fire times. Only the latest slot after the last rotation counts:
//     however many slots were missed (operator down, suspended), at most one catch-up rotation.
//   - A slot becomes runnable at the slot, or, with windows, when a window is open (at the
//     slot, or at the next opening after it). A slot due while every window is closed waits
//     for the next opening (reason WaitingForWindow).
//   - startingDeadline: a slot that has been runnable for longer than this is skipped (reason
//     MissedDeadline) and the next slot is waited for, as CronJob's startingDeadlineSeconds.
import type { CronSchedule } from './cron.ts';
import { earliestOpenAtOrAfter, windowStateAt, type MaintenanceWindow, type WindowState } from './windows.ts';

export interface RotationSchedule {
  readonly schedule: CronSchedule;
  readonly windows: readonly MaintenanceWindow[];
  readonly startingDeadlineMs?: number | undefined;
}

export type ScheduleReason = 'Due' | 'NotYet' | 'WaitingForWindow' | 'MissedDeadline' | 'NeverFires';

export interface ScheduleDecision {
  readonly due: boolean;
  readonly reason: ScheduleReason;
  /** The slot being rotated for or waited on (the latest missed one when several were missed). */
  readonly slot?: number | undefined;
  /** When the next scheduled rotation may happen (now when due); undefined: never. */
  readonly nextRotationTime?: number | undefined;
  readonly window: WindowState;
}

export function decideScheduledRotation(rs: RotationSchedule, lastRotationMs: number, now: number): ScheduleDecision {
  const window = windowStateAt(rs.windows, now);
  const first = rs.schedule.next(lastRotationMs);
  if (first === undefined) return { due: false, reason: 'NeverFires', window };
  if (first > now) {
    return { due: false, reason: 'NotYet', slot: first, nextRotationTime: earliestOpenAtOrAfter(rs.windows, first), window };
  }
  const slot = rs.schedule.previous(now) ?? first;
  if (!window.open) return { due: false, reason: 'WaitingForWindow', slot, nextRotationTime: window.opensAt, window };
  const runnableSince = Math.max(slot, window.opensAt ?? slot);
  if (rs.startingDeadlineMs !== undefined && now - runnableSince > rs.startingDeadlineMs) {
    const following = rs.schedule.next(now);
    return {
      due: false,
      reason: 'MissedDeadline',
      slot,
      nextRotationTime: following === undefined ? undefined : earliestOpenAtOrAfter(rs.windows, following),
      window,
    };
  }
  return { due: true, reason: 'Due', slot, nextRotationTime: now, window };
}

/** The next scheduled rotation after a rotation at `t` (the first runnable slot after it). */
export function nextScheduledAfter(rs: RotationSchedule, t: number): number | undefined {
  const n = rs.schedule.next(t);
  return n === undefined ? undefined : earliestOpenAtOrAfter(rs.windows, n);
}
