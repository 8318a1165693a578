// `tko keys generate|inspect`: ATS session-ticket key files (48-byte keys concatenated, the
// first one encrypts). Useful alone (a key file for a single ATS) and for tests. Neither
// command ever prints key bytes: only counts and fingerprints.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { KEY_BYTES, ringFingerprint } from '../core/fingerprint.ts';
import { KeyMaterial, zeroize } from '../core/key-material.ts';
import { encodeRing, MAX_RING_KEYS, parseRing, RingFormatError } from '../core/ring.ts';

/** A failure the user can act on: printed as one line, exit code 1. */
class KeysCliError extends Error {
  override name = 'KeysCliError';
}

function keyCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1 || n > MAX_RING_KEYS) {
    throw new InvalidArgumentError(`must be an integer from 1 to ${MAX_RING_KEYS}`);
  }
  return n;
}

/** Runs an action, turning expected failures into one stderr line and exit code 1. */
function guarded<A extends unknown[]>(command: string, action: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    try {
      action(...args);
    } catch (err) {
      if (!(err instanceof KeysCliError)) throw err;
      process.stderr.write(`tko keys ${command}: ${err.message}\n`);
      process.exitCode = 1;
    }
  };
}

function describeFsError(file: string, err: unknown): KeysCliError {
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    EEXIST: 'already exists; pass --force to overwrite it',
    ELOOP: 'is a symbolic link; refusing to follow it',
  };
  return new KeysCliError(`${file}: ${(code && why[code]) ?? `cannot access (${code ?? String(err)})`}`);
}

/**
 * Writes the bytes to `file` with mode 0600. Without `force` the file must not exist (O_EXCL,
 * no symlink following). With `force` a temporary file in the same directory is renamed over
 * it, so readers never see a partial ring and an existing wider mode is not inherited.
 */
function writeKeyFile(file: string, bytes: Buffer, force: boolean): void {
  const target = force ? join(dirname(file), `.${basename(file)}.tko-${randomBytes(6).toString('hex')}`) : file;
  let fd: number;
  try {
    fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw describeFsError(force ? dirname(file) : file, err);
  }
  try {
    fchmodSync(fd, 0o600); // the umask may have narrowed it further; 0600 exactly
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(target);
    throw describeFsError(file, err);
  }
  closeSync(fd);
  if (force) {
    try {
      renameSync(target, file);
    } catch (err) {
      unlinkSync(target);
      throw describeFsError(file, err);
    }
  }
}

function generate(opts: { count: number; out: string; force?: boolean }): void {
  if (opts.out === '-') throw new KeysCliError('--out must be a file; key bytes are never written to stdout');
  const keys = Array.from({ length: opts.count }, () => KeyMaterial.generate());
  const ring = encodeRing(keys);
  try {
    writeKeyFile(opts.out, ring, opts.force ?? false);
    const lines = [
      `wrote ${keys.length} key${keys.length === 1 ? '' : 's'} (${ring.length} bytes, mode 0600) to ${opts.out}`,
      `ring fingerprint ${ringFingerprint(ring)}`,
      ...keys.map((k, i) => `  #${i}  ${i === 0 ? 'encrypts' : 'decrypts'}  ${k.fingerprint}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    zeroize(ring);
    for (const k of keys) k.destroy();
  }
}

function inspect(file: string, opts: { json?: boolean }): void {
  let mode: number;
  try {
    // Follows symlinks (kubelet mounts Secrets through them): the target's mode is what matters.
    const st = statSync(file);
    mode = st.mode;
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    // A ring is at most 16 × 48 bytes: refuse to read anything much larger.
    if (st.isFile() && st.size > MAX_RING_KEYS * KEY_BYTES) {
      throw new KeysCliError(
        `${file}: not an ATS ticket-key ring: ${st.size} bytes is more than ${MAX_RING_KEYS} keys (${MAX_RING_KEYS * KEY_BYTES} bytes)`,
      );
    }
  } catch (err) {
    if (err instanceof KeysCliError) throw err;
    throw describeFsError(file, err);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw describeFsError(file, err);
  }
  let keys: KeyMaterial[];
  try {
    keys = parseRing(bytes);
  } catch (err) {
    zeroize(bytes);
    if (err instanceof RingFormatError) throw new KeysCliError(`${file}: not an ATS ticket-key ring: ${err.message}`);
    throw err;
  }
  const ringFp = ringFingerprint(bytes);
  const size = bytes.length;
  zeroize(bytes);
  const fingerprints = keys.map((k) => k.fingerprint);
  for (const k of keys) k.destroy();

  const perm = mode & 0o777;
  if ((perm & 0o077) !== 0) {
    process.stderr.write(`warning: ${file} has mode ${perm.toString(8).padStart(4, '0')}; key files should be readable by their owner only (0600)\n`);
  }
  if (opts.json) {
    const out = {
      file,
      bytes: size,
      count: fingerprints.length,
      ringFingerprint: ringFp,
      mode: perm.toString(8).padStart(4, '0'),
      keys: fingerprints.map((fingerprint, index) => ({ index, fingerprint, role: index === 0 ? 'encrypt' : 'decrypt' })),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const lines = [
    `${file}: ${fingerprints.length} key${fingerprints.length === 1 ? '' : 's'} (${size} bytes), ring fingerprint ${ringFp}`,
    ...fingerprints.map((fp, i) => `  #${i}  ${i === 0 ? 'encrypts' : 'decrypts'}  ${fp}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('ATS session-ticket key files (48-byte keys; the first encrypts, every key decrypts); never prints key bytes');

  keys
    .command('generate')
    .description('write a ring of fresh random keys to a file (mode 0600)')
    .option('--count <n>', `number of keys, 1 to ${MAX_RING_KEYS}`, keyCount, 1)
    .requiredOption('--out <file>', 'file to write (refuses to overwrite without --force)')
    .option('--force', 'replace an existing file (atomically)')
    .action(guarded('generate', (opts: { count: number; out: string; force?: boolean }) => generate(opts)));

  keys
    .command('inspect')
    .description('validate a key file and print its key count and fingerprints')
    .argument('<file>', 'ATS ticket-key file')
    .option('--json', 'print JSON')
    .action(guarded('inspect', (file: string, opts: { json?: boolean }) => inspect(file, opts)));
}
