// The image runs the bundle scripts/bundle.ts makes, with no node_modules beside it: every
// subcommand, including the lazily loaded ones, must run from the bundle alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bundleTko } from '../../../scripts/bundle.ts';

let dir: string;
let entry: string;
const tko = (...args: string[]) => spawnSync(process.execPath, [entry, ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tko-bundle-'));
  entry = await bundleTko(join(dir, 'bundle'));
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scripts/bundle.ts', () => {
  it('writes tko.mjs and its chunks, and nothing else (no node_modules)', () => {
    const files = readdirSync(dirname(entry));
    expect(files).toContain('tko.mjs');
    expect(files.every((f) => f.endsWith('.mjs'))).toBe(true);
    expect(readFileSync(entry, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('runs lazily loaded subcommands from the bundle alone', () => {
    const generated = tko('keys', 'generate', '--count', '2', '--out', 'ring.key');
    expect(generated.stderr).toBe('');
    expect(generated.status).toBe(0);
    const inspected = tko('keys', 'inspect', 'ring.key');
    expect(inspected.status).toBe(0);
    expect(inspected.stdout).toMatch(/^ring\.key: 2 keys \(96 bytes\), ring fingerprint [0-9a-f]{16}\n/);
    writeFileSync(
      join(dir, 'tks.yaml'),
      'apiVersion: ticketkeys.dev/v1alpha1\nkind: TicketKeySet\nmetadata: { name: web, namespace: default }\n' +
        'spec:\n  selector: { matchLabels: { app: web } }\n  rotation: { schedule: "0 3 * * *", timeZone: UTC }\n',
    );
    const schedule = tko('schedule', '--file', 'tks.yaml', '--count', '2');
    expect(schedule.stderr).toBe('');
    expect(schedule.stdout).toContain('TicketKeySet default/web');
    expect(schedule.stdout.match(/ 03:00 /g)).toHaveLength(2);
    const certs = tko('dev', 'certs', '--dir', 'certs');
    expect(certs.stderr).toBe('');
    expect(certs.status).toBe(0);
    expect(readdirSync(join(dir, 'certs')).sort()).toEqual(expect.arrayContaining(['ca.crt', 'agent.crt', 'operator.crt']));
  });

  it("answers bad input with the command's own error, not a missing module", () => {
    const bad = tko('keys', 'generate', '--count', '17', '--out', 'too-many.key');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('must be an integer from 1 to 16');
    expect(bad.stderr).not.toMatch(/Cannot find (module|package)|is not a function/);
  });
});
