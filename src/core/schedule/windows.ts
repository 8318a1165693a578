// Maintenance windows: a window opens at each fire time of its schedule (in its own zone) and
// stays open for its duration. Windows gate scheduled rotations only.
import { CronSchedule } from './cron.ts';

export interface MaintenanceWindow {
  readonly schedule: CronSchedule;
  readonly durationMs: number;
}

export interface WindowState {
  readonly open: boolean;
  /** Open: when the window that is open now opened. Closed: when the next one opens. */
  readonly opensAt?: number | undefined;
  /** Open: when it closes (a window reopened by a later fire time counts from that one). Closed: when the next one closes. */
  readonly closesAt?: number | undefined;
}

/** The open/closed state at `t` over all windows (no windows: always open, no times). */
export function windowStateAt(windows: readonly MaintenanceWindow[], t: number): WindowState {
  if (windows.length === 0) return { open: true };
  let openedAt: number | undefined;
  let closesAt: number | undefined;
  let nextOpen: number | undefined;
  let nextClose: number | undefined;
  for (const w of windows) {
    // The earliest opening still open at t, and the latest opening at or before t.
    const first = w.schedule.next(t - w.durationMs);
    if (first !== undefined && first <= t) {
      const last = w.schedule.previous(t) ?? first;
      openedAt = openedAt === undefined ? first : Math.min(openedAt, first);
      closesAt = Math.max(closesAt ?? 0, last + w.durationMs);
    } else {
      const n = first ?? w.schedule.next(t);
      if (n !== undefined && (nextOpen === undefined || n < nextOpen)) {
        nextOpen = n;
        nextClose = n + w.durationMs;
      }
    }
  }
  if (openedAt !== undefined) return { open: true, opensAt: openedAt, closesAt };
  return { open: false, opensAt: nextOpen, closesAt: nextClose };
}

/** The earliest instant at or after `t` at which some window is open (t itself when no windows). */
export function earliestOpenAtOrAfter(windows: readonly MaintenanceWindow[], t: number): number | undefined {
  const s = windowStateAt(windows, t);
  return s.open ? t : s.opensAt;
}
