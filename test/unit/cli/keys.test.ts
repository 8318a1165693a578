// `tko keys generate|inspect`, exercised the way users run them: a real node process.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KEY_BYTES, keyFingerprint, ringFingerprint } from '../../../src/core/fingerprint.ts';

const MAIN = resolve(import.meta.dirname, '../../../src/cli/main.ts');
let dir: string;

function tko(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Neither stream may contain any key's bytes in any common encoding. */
function expectNoKeyBytes(output: string, file: Buffer): void {
  for (let off = 0; off + KEY_BYTES <= file.length; off += KEY_BYTES) {
    const key = file.subarray(off, off + KEY_BYTES);
    for (const part of [key, key.subarray(0, 16), key.subarray(16, 32), key.subarray(32, 48)]) {
      expect(output).not.toContain(part.toString('hex'));
      expect(output).not.toContain(part.toString('base64').replace(/=+$/, ''));
    }
  }
}

const fingerprintsOf = (file: Buffer): string[] =>
  Array.from({ length: file.length / KEY_BYTES }, (_, i) => keyFingerprint(file.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES)));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tko-keys-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('tko keys generate', () => {
  it('writes N×48 random bytes with mode 0600 and prints only fingerprints', () => {
    const r = tko('keys', 'generate', '--count', '3', '--out', 'ring.key');
    expect(r.status).toBe(0);
    const file = readFileSync(join(dir, 'ring.key'));
    expect(file).toHaveLength(3 * KEY_BYTES);
    expect(statSync(join(dir, 'ring.key')).mode & 0o777).toBe(0o600);
    const fps = fingerprintsOf(file);
    expect(new Set(fps).size).toBe(3);
    expect(r.stdout).toContain('wrote 3 keys (144 bytes, mode 0600) to ring.key');
    expect(r.stdout).toContain(`ring fingerprint ${ringFingerprint(file)}`);
    expect(r.stdout).toContain(`#0  encrypts  ${fps[0]}`);
    expect(r.stdout).toContain(`#2  decrypts  ${fps[2]}`);
    expectNoKeyBytes(r.stdout + r.stderr, file);
  });

  it('refuses to overwrite without --force, and with --force replaces the file atomically as 0600', () => {
    const target = join(dir, 'existing.key');
    writeFileSync(target, 'not a key file');
    chmodSync(target, 0o644);
    const refused = tko('keys', 'generate', '--out', 'existing.key');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('tko keys generate: existing.key: already exists; pass --force to overwrite it');
    expect(readFileSync(target, 'utf8')).toBe('not a key file');

    const forced = tko('keys', 'generate', '--out', 'existing.key', '--force');
    expect(forced.status).toBe(0);
    const file = readFileSync(target);
    expect(file).toHaveLength(KEY_BYTES); // default --count 1
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.includes('.tko-'))).toEqual([]);
    expectNoKeyBytes(forced.stdout + forced.stderr, file);
  });

  it.each([['0'], ['17'], ['1.5']])('rejects --count %s', (count) => {
    const r = tko('keys', 'generate', '--count', count, '--out', `count-${count}.key`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('must be an integer from 1 to 16');
    expect(readdirSync(dir)).not.toContain(`count-${count}.key`);
  });

  it('never writes keys to stdout and reports an unwritable path', () => {
    const dash = tko('keys', 'generate', '--out', '-');
    expect(dash.status).toBe(1);
    expect(dash.stderr).toContain('--out must be a file');
    const missing = tko('keys', 'generate', '--out', 'no/such/dir/k.key');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no/such/dir/k.key: no such file or directory');
  });
});

describe('tko keys inspect', () => {
  it('prints the count, the ring fingerprint and each key fingerprint (text and --json)', () => {
    writeFileSync(join(dir, 'inspect.key'), randomBytes(4 * KEY_BYTES), { mode: 0o600 });
    const file = readFileSync(join(dir, 'inspect.key'));
    const fps = fingerprintsOf(file);
    const text = tko('keys', 'inspect', 'inspect.key');
    expect(text.status).toBe(0);
    expect(text.stdout).toBe(
      [`inspect.key: 4 keys (192 bytes), ring fingerprint ${ringFingerprint(file)}`, ...fps.map((fp, i) => `  #${i}  ${i === 0 ? 'encrypts' : 'decrypts'}  ${fp}`)].join('\n') + '\n',
    );
    expect(text.stderr).toBe('');
    const json = tko('keys', 'inspect', '--json', 'inspect.key');
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      file: 'inspect.key',
      bytes: 192,
      count: 4,
      ringFingerprint: ringFingerprint(file),
      mode: '0600',
      keys: fps.map((fingerprint, index) => ({ index, fingerprint, role: index === 0 ? 'encrypt' : 'decrypt' })),
    });
    expectNoKeyBytes(text.stdout + json.stdout, file);
  });

  it('warns when the key file is readable by others', () => {
    writeFileSync(join(dir, 'wide.key'), randomBytes(2 * KEY_BYTES));
    chmodSync(join(dir, 'wide.key'), 0o644);
    const r = tko('keys', 'inspect', 'wide.key');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('warning: wide.key has mode 0644');
  });

  it('rejects malformed files with a clear message, a non-zero exit and no bytes', () => {
    const random = (n: number): Buffer => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (i * 131 + 17) % 251;
      return b;
    };
    const good = random(2 * KEY_BYTES);
    const dupName = Buffer.concat([good.subarray(0, KEY_BYTES), good.subarray(0, 16), random(32).reverse()]);
    // The other rules (empty, all-zero key) are covered by test/unit/core/ring.test.ts; one
    // process per file is slow, so the CLI is run on the three typical mistakes.
    const files: [string, Buffer, string][] = [
      ['nginx.key', random(80), '80 bytes, not a multiple of 48'],
      ['big.key', random(17 * KEY_BYTES), '816 bytes is more than 16 keys (768 bytes)'],
      ['dup.key', dupName, 'keys #0 and #1 share the same 16-byte key name'],
    ];
    for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes, { mode: 0o600 });
    for (const [name, bytes, why] of files) {
      const r = tko('keys', 'inspect', name);
      expect({ name, status: r.status }).toEqual({ name, status: 1 });
      expect(r.stderr).toContain(`tko keys inspect: ${name}: not an ATS ticket-key ring: `);
      expect(r.stderr).toContain(why);
      expect(r.stdout).toBe('');
      expectNoKeyBytes(r.stderr, bytes.subarray(0, Math.floor(bytes.length / KEY_BYTES) * KEY_BYTES));
    }
  });

  it('reports a missing file and a directory', () => {
    const missing = tko('keys', 'inspect', 'nope.key');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('tko keys inspect: nope.key: no such file or directory\n');
    const directory = tko('keys', 'inspect', '.');
    expect(directory.status).toBe(1);
    expect(directory.stderr).toBe('tko keys inspect: .: is a directory\n');
  });
});
