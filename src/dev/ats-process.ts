// Process handling for dev ATS instances: start traffic_manager with core dumps off, find the
// instance's processes (traffic_manager and the traffic_server it forks) by their TS_RUNROOT,
// and stop them without leaving orphans. Only processes carrying this instance's exact
// TS_RUNROOT are ever signalled.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface AtsProcess {
  pid: number;
  /** /proc/<pid>/comm, e.g. "traffic_manager", "[ET_NET 0]" (traffic_server renames threads, not itself). */
  comm: string;
  exe: string;
}

/** Starts `traffic_manager` for the runroot; stdout/stderr go to files in logDir; `env` adds variables. */
export function spawnTrafficManager(runroot: string, logDir: string, env: Record<string, string> = {}): ChildProcess {
  const out = openSync(join(logDir, 'traffic_manager.out'), 'a');
  try {
    // `ulimit -c 0` before exec: traffic_server inherits it, so no core file can hold keys
    // even before records.config's proxy.config.core_limit is applied.
    const child = spawn('/bin/sh', ['-c', 'ulimit -c 0 && exec traffic_manager'], {
      env: { ...process.env, ...env, TS_RUNROOT: runroot },
      stdio: ['ignore', out, out],
      detached: true, // own process group: stop() can signal the whole group
    });
    child.unref();
    return child;
  } finally {
    closeSync(out);
  }
}

/** Every process whose environment has TS_RUNROOT=<runroot> exactly. */
export async function findAtsProcesses(runroot: string): Promise<AtsProcess[]> {
  const needle = Buffer.from(`TS_RUNROOT=${runroot}\0`);
  const out: AtsProcess[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const env = await readFile(`/proc/${pid}/environ`);
      if (!env.includes(needle) && !endsWith(env, needle.subarray(0, needle.length - 1))) continue;
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
      const exe = await readFile(`/proc/${pid}/cmdline`).then((b) => b.toString('utf8').split('\0')[0] ?? '');
      out.push({ pid, comm, exe });
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return out;
}

function endsWith(buf: Buffer, tail: Buffer): boolean {
  return buf.length >= tail.length && buf.subarray(buf.length - tail.length).equals(tail);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGTERM to traffic_manager (it stops traffic_server), then SIGKILL whatever of the instance
 * is still alive after graceMs. Resolves when none of its processes is left.
 */
export async function stopAtsProcesses(runroot: string, managerPid: number | undefined, graceMs = 8000): Promise<void> {
  if (managerPid !== undefined) signal(-managerPid, 'SIGTERM');
  for (const p of await findAtsProcesses(runroot)) signal(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = (await findAtsProcesses(runroot)).filter((p) => isAlive(p.pid));
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      for (const p of left) signal(p.pid, 'SIGKILL');
      if (managerPid !== undefined) signal(-managerPid, 'SIGKILL');
    }
    if (Date.now() > deadline + 5000) {
      throw new Error(`ATS processes of ${runroot} survived SIGKILL: ${left.map((p) => p.pid).join(', ')}`);
    }
    await sleep(100);
  }
}

/** Synchronous last resort for process exit: kill the instance's process group. */
export function killGroupSync(managerPid: number | undefined): void {
  if (managerPid !== undefined) signal(-managerPid, 'SIGKILL');
}
