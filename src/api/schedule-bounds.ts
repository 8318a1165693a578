// Bounds of the calendar-schedule fields, shared by the CRD schema (src/api/spec.ts) and the
// schedule core (src/core/schedule), which must agree on them.

/** Longest accepted cron expression (CronJob-like schedules are short; bounds the CEL cost too). */
export const MAX_SCHEDULE_LENGTH = 128;
export const MAX_TIME_ZONE_LENGTH = 64;
/** The macros accepted besides 5-field expressions. */
export const SCHEDULE_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'] as const;
export const DEFAULT_TIME_ZONE = 'UTC';
export const MAX_WINDOWS = 8;
export const MIN_WINDOW_DURATION = '1m';
export const MIN_STARTING_DEADLINE = '10s';
