import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readConfigDir } from '../../../src/agent/config-dir-snapshot.ts';
import { ConfigDirWatcher } from '../../../src/agent/config-dir-watcher.ts';
import { configFilesHash, configMapFiles } from '../../../src/core/ats-config/config-hash.ts';
import { atomicWrite } from '../../helpers/kubelet-atomic-writer.ts';
import { capturedLogger, waitFor } from './fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(options: { debounceMs?: number; resyncIntervalMs?: number; useFsEvents?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'tko-configdir-'));
  const { logger, lines } = capturedLogger();
  const changes: string[] = [];
  const problems: string[] = [];
  const watcher = new ConfigDirWatcher({ dir, logger, debounceMs: options.debounceMs ?? 100, resyncIntervalMs: options.resyncIntervalMs ?? 60_000, useFsEvents: options.useFsEvents ?? true });
  watcher.on('change', (hash) => changes.push(hash));
  watcher.on('problem', (p) => problems.push(`${p.path}: ${p.message}`));
  cleanups.push(async () => {
    await watcher.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, watcher, changes, problems, lines };
}

const V1 = { 'records.config': 'CONFIG proxy.config.diags.debug.enabled INT 0\n', 'remap.config': 'map / http://a/\n' };
const V2 = { ...V1, 'remap.config': 'map / http://b/\n' };

describe('ConfigDirWatcher', () => {
  it('hashes the files exactly as the operator hashes the ConfigMap', async () => {
    const { dir } = await setup();
    await atomicWrite(dir, V1);
    const reading = await readConfigDir(dir);
    expect(reading.ok && reading.snapshot.hash).toBe(configFilesHash(configMapFiles(V1)));
    expect(reading.ok && reading.snapshot.files.map((f) => f.name)).toEqual(['records.config', 'remap.config']);
  });

  it('emits one change per kubelet update, after the debounce, with the new hash', async () => {
    const { dir, watcher, changes } = await setup();
    await atomicWrite(dir, V1);
    await watcher.start();
    expect(watcher.hash).toBe(configFilesHash(configMapFiles(V1)));
    await atomicWrite(dir, V2);
    await waitFor(() => changes.length > 0, 'a change event');
    await sleep(500); // several debounce periods: no second event for the same update
    expect(changes).toEqual([configFilesHash(configMapFiles(V2))]);
  });

  it('coalesces a burst of updates into one change with the final content', async () => {
    const { dir, watcher, changes } = await setup({ debounceMs: 1500 });
    await atomicWrite(dir, V1);
    await watcher.start();
    await atomicWrite(dir, V2);
    await atomicWrite(dir, { ...V2, 'sni.yaml': 'sni: []\n' });
    await atomicWrite(dir, { ...V2, 'sni.yaml': 'sni: []\n', 'extra.config': 'x\n' });
    await waitFor(() => changes.length > 0, 'a change event');
    await sleep(2000);
    expect(changes).toEqual([configFilesHash(configMapFiles({ ...V2, 'sni.yaml': 'sni: []\n', 'extra.config': 'x\n' }))]);
  });

  it('emits nothing for repeated identical writes, even a swap to a new timestamped directory', async () => {
    const { dir, watcher, changes } = await setup({ resyncIntervalMs: 150 });
    await atomicWrite(dir, V1);
    await watcher.start();
    await atomicWrite(dir, V1);
    await atomicWrite(dir, V1, { alwaysSwap: true });
    await atomicWrite(dir, V1, { alwaysSwap: true });
    await sleep(800); // fs events, debounce and several re-reads have run
    expect(changes).toEqual([]);
    // Still watching: a real change comes through.
    await atomicWrite(dir, V2);
    await waitFor(() => changes.length === 1, 'the real change');
  });

  it('reports a symlink loop once, keeps running, and resumes when it is gone', async () => {
    const { dir, watcher, changes, problems, lines } = await setup({ resyncIntervalMs: 150 });
    await atomicWrite(dir, V1);
    await watcher.start();
    await symlink('loop', join(dir, 'loop'));
    await waitFor(() => problems.length > 0, 'a problem report');
    await sleep(600); // several re-reads see the same loop: reported once
    expect(problems).toEqual(['loop: symlink loop']);
    expect(lines.some((l) => l.includes('config directory unreadable'))).toBe(true);
    expect(changes).toEqual([]);
    await unlink(join(dir, 'loop'));
    await atomicWrite(dir, V2);
    await waitFor(() => changes.length === 1, 'the change after the loop is gone');
    expect(changes[0]).toBe(configFilesHash(configMapFiles(V2)));
  });

  it('reports binary data and oversized files with the file (and line), never a change', async () => {
    const { dir, watcher, changes, problems } = await setup({ resyncIntervalMs: 150 });
    await atomicWrite(dir, V1);
    await watcher.start();
    await atomicWrite(dir, { ...V1, 'records.config': Buffer.from('CONFIG a INT 1\n\u0000\u0001\u0002') });
    await waitFor(() => problems.length > 0, 'the binary report');
    expect(problems[0]).toBe('records.config: line 2: binary content: control character 0x00 in a text file');
    await atomicWrite(dir, { ...V1, 'records.config': Buffer.alloc(1024 * 1024 + 1, 0x61) });
    await waitFor(() => problems.length > 1, 'the size report');
    expect(problems[1]).toContain('records.config: the file is 1048577 bytes');
    expect(changes).toEqual([]);
  });

  it('refuses a FIFO without blocking on it', async () => {
    const { dir } = await setup();
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    const reading = await readConfigDir(dir);
    expect(reading).toEqual({ ok: false, problem: { path: 'pipe', message: 'not a regular file' } });
  });

  it('detects a change by the periodic re-read alone (no fs events)', async () => {
    const { dir, watcher, changes } = await setup({ useFsEvents: false, resyncIntervalMs: 200 });
    await atomicWrite(dir, V1);
    await watcher.start();
    // An edit inside ..data in place: no top-level event, only a re-read sees it.
    await writeFile(join(dir, '..data', 'remap.config'), 'map / http://c/\n');
    await waitFor(() => changes.length === 1, 'the re-read change');
    expect(changes[0]).toBe(configFilesHash(configMapFiles({ ...V1, 'remap.config': 'map / http://c/\n' })));
  });
});
