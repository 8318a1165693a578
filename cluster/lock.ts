// One cluster per checkout: `up` creates cluster.lock exclusively and the cluster holds it until
// `down`. A lock is live while the `up` that wrote it, or any process the cluster recorded, still
// runs; a second `up` then stops with one line and touches nothing. A dead lock is cleaned up.
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { isRunning } from '../dev/testbed/processes.ts';
import { readState as readTestbedState } from '../dev/testbed/testbed.ts';
import { marker } from './layout.ts';
import type { Layout } from './layout.ts';
import { readClusterState } from './state.ts';

interface LockContent {
  pid: number;
  startedAt: string;
}

function readLock(l: Layout): LockContent | undefined {
  try {
    return JSON.parse(readFileSync(l.lock, 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** A one-line description of what still runs for this state dir, or undefined if nothing does. */
export function liveCluster(l: Layout): string | undefined {
  const own = readClusterState(l)?.processes ?? [];
  let controlPlane: { pid: number; name: string }[] = [];
  try {
    controlPlane = readTestbedState(l.controlPlane)?.processes ?? [];
  } catch {
    controlPlane = [];
  }
  const alive = [...own, ...controlPlane].filter((p) => isRunning(p.pid, marker(l)));
  if (alive.length) return `running (${alive.map((p) => `${p.name} pid ${p.pid}`).join(', ')})`;
  const lock = readLock(l);
  if (lock && lock.pid !== process.pid && pidAlive(lock.pid)) return `being started by pid ${lock.pid}`;
  return undefined;
}

export type LockResult = { acquired: true } | { acquired: false; live: string | undefined };

/** Creates the lock; if one exists, reports whether its cluster is live (caller decides). */
export function tryLock(l: Layout): LockResult {
  let fd: number;
  try {
    fd = openSync(l.lock, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { acquired: false, live: liveCluster(l) };
  }
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() } satisfies LockContent));
  } finally {
    closeSync(fd);
  }
  return { acquired: true };
}

export function lockExists(l: Layout): boolean {
  return existsSync(l.lock);
}
