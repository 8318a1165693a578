// Long-lived child processes of the test bed. Each runs in its own process group (so one
// signal reaches anything it forks) and is identified later by its pid plus a marker string
// that must appear in its command line: a recycled pid never gets a signal from us.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessRecord {
  name: string;
  pid: number;
  bin: string;
  args: string[];
  log: string;
}

export function startDetached(name: string, bin: string, args: string[], log: string): ProcessRecord {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${bin})`);
    // The test bed outlives `testbed up`; the parent must not wait for it.
    child.unref();
    return { name, pid: child.pid, bin, args, log };
  } finally {
    closeSync(fd);
  }
}

/** True while the pid runs a live (not zombie) process whose command line contains marker. */
/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function isRunning(pid: number, marker: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state field follows the parenthesised command name.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** SIGTERM the process group, wait for it to go, SIGKILL it if it will not. */
export async function stopProcess(record: ProcessRecord, marker: string, graceMs = 10_000): Promise<void> {
  if (!isRunning(record.pid, marker)) return;
  signalGroup(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(record.pid, marker)) return;
    await sleep(50);
  }
  signalGroup(record.pid, 'SIGKILL');
  while (isRunning(record.pid, marker)) await sleep(20);
}

/** For exit and signal handlers, which cannot wait: SIGKILL at once. */
export function killProcessNow(record: ProcessRecord, marker: string): void {
  if (isRunning(record.pid, marker)) signalGroup(record.pid, 'SIGKILL');
}

export function logTail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
