// `tko schedule`: the next rotation times in the set's zone (DST included), the window state and
// what is pending, from the same core as the operator; and the command as users run it.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TicketKeySet } from '../../../src/api/index.ts';
import { formatSchedule } from '../../../src/cli/schedule.ts';

const MAIN = resolve(import.meta.dirname, '../../../src/cli/main.ts');
const T = (iso: string): number => Date.parse(iso);

const set = (rotation: Record<string, unknown>, status: Record<string, unknown> = {}): TicketKeySet =>
  ({ apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', metadata: { name: 'edge', namespace: 'web' }, spec: { selector: { matchLabels: { app: 'ats' } }, rotation }, status }) as TicketKeySet;

describe('formatSchedule', () => {
  it('lists the next rotations in the zone across the spring-forward night (02:30 becomes 03:00 CEST)', () => {
    const out = formatSchedule(set({ schedule: '30 2 * * *', timeZone: 'Europe/Berlin' }), T('2026-03-27T12:00:00Z'), 3);
    expect(out).toContain('schedule: 30 2 * * *   time zone: Europe/Berlin');
    expect(out).toContain('ticketLifetime: 25h (the longest gap between slots over the next year, at most 168h)');
    expect(out.split('\n').filter((l) => l.startsWith('  Sat') || l.startsWith('  Sun') || l.startsWith('  Mon'))).toEqual([
      '  Sat 2026-03-28 02:30 GMT+1 (2026-03-28T01:30Z)',
      '  Sun 2026-03-29 03:00 GMT+2 (2026-03-29T01:00Z)',
      '  Mon 2026-03-30 02:30 GMT+2 (2026-03-30T00:30Z)',
    ]);
  });

  it('shows the window state and a slot waiting for it', () => {
    const tks = set({ schedule: '0 12 * * *', windows: [{ schedule: '0 2 * * *', duration: '2h' }] }, { lastRotationTime: '2026-01-05T02:30:00Z' });
    const out = formatSchedule(tks, T('2026-01-05T13:00:00Z'), 2);
    expect(out).toContain('window:   0 2 * * * (UTC) for 2h');
    expect(out).toContain('window now: closed, opens Tue 2026-01-06 02:00 GMT+0 (2026-01-06T02:00Z)');
    expect(out).toContain('a slot is pending and waits for the next window (slot Mon 2026-01-05 12:00 GMT+0 (2026-01-05T12:00Z))');
    expect(out).toMatch(/Next 2 rotation\(s\)[^\n]*\n {2}Tue 2026-01-06 02:00 GMT\+0 \(2026-01-06T02:00Z\)\n {2}Wed 2026-01-07 02:00 GMT\+0/);
  });

  it('says when a set rotates by interval', () => {
    expect(formatSchedule(set({ interval: '6h' }), T('2026-01-05T13:00:00Z'), 2)).toBe('TicketKeySet web/edge rotates every 6h (no rotation.schedule)\n');
  });

  it('refuses what the operator refuses, with its message', () => {
    expect(() => formatSchedule(set({ schedule: '@daily', timeZone: 'Mars/Base' }), T('2026-01-05T13:00:00Z'), 2)).toThrow(/rotation\.timeZone "Mars\/Base" is not a known IANA time zone/);
  });
});

describe('tko schedule -f', () => {
  it('reads a manifest and prints the schedule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tko-schedule-'));
    try {
      const file = join(dir, 'tks.yaml');
      writeFileSync(file, ['apiVersion: ticketkeys.dev/v1alpha1', 'kind: TicketKeySet', 'metadata: {name: edge}', 'spec:', '  selector: {matchLabels: {app: ats}}', '  rotation: {schedule: "@weekly", timeZone: America/New_York}', ''].join('\n'));
      const r = spawnSync(process.execPath, [MAIN, 'schedule', '-f', file, '-c', '2'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('schedule: @weekly   time zone: America/New_York');
      expect(r.stdout.match(/^ {2}Sun \d{4}-\d\d-\d\d 00:00 GMT-[45] /gm)).toHaveLength(2);
      const bad = spawnSync(process.execPath, [MAIN, 'schedule', '-f', file, '-c', '0'], { encoding: 'utf8', timeout: 30_000 });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('--count must be an integer from 1 to 100');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
