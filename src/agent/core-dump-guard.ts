// The agent holds every key of its pod's ring in memory, so a core file of it would hold them
// too. Kubernetes has no field for RLIMIT_CORE: the container command sets it
// (`/bin/sh -c 'ulimit -c 0 && exec tko agent ...'`, as the chart does for the operator), and
// the agent checks at start that it did. Not refused: test and dev paths spawn the agent
// directly; a warning and a metric (tko_agent_core_dumps_enabled) make a wrong pod spec visible.
import { readFileSync } from 'node:fs';
import type { Logger } from '../observability/logger.ts';

export const LIMITS_FILE = '/proc/self/limits';

/** The soft core-file limit: bytes, 'unlimited', or undefined when it cannot be read. */
export type CoreFileLimit = number | 'unlimited' | undefined;

/** Parses the "Max core file size" soft limit out of a /proc/<pid>/limits text. */
export function parseCoreFileLimit(limits: string): CoreFileLimit {
  const m = /^Max core file size\s+(\S+)\s+\S+/m.exec(limits);
  if (!m) return undefined;
  if (m[1] === 'unlimited') return 'unlimited';
  const n = Number(m[1]);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function readCoreFileLimit(file = LIMITS_FILE): CoreFileLimit {
  try {
    return parseCoreFileLimit(readFileSync(file, 'utf8'));
  } catch {
    return undefined; // not Linux, or /proc not mounted
  }
}

/** A core file could be written: any limit but 0, including one that cannot be read. */
export function coreDumpsPossible(limit: CoreFileLimit): boolean {
  return limit !== 0;
}

/** Logs a warning when this process could write a core file. Returns the limit it read. */
export function warnIfCoreDumpsEnabled(logger: Logger, file = LIMITS_FILE): CoreFileLimit {
  const limit = readCoreFileLimit(file);
  if (coreDumpsPossible(limit)) {
    logger.warn('core dumps are not off: a core file of the agent would contain ticket keys; run it as ' +
      "`/bin/sh -c 'ulimit -c 0 && exec tko agent ...'`", { coreFileLimit: limit === undefined ? `unreadable (${file})` : String(limit) });
  }
  return limit;
}
