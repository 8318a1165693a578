// The ATS binary ring: 48-byte keys concatenated, no header; keys[0] encrypts, every key
// decrypts (matched by key name). ATS itself barely validates (an empty buffer installs a
// random key, a ragged tail is dropped silently), so everything that builds or reads a ring
// goes through these strict functions.
import { MAX_RING_KEYS } from '../contract/keys.ts';
import { KEY_BYTES, ringFingerprint } from './fingerprint.ts';
import { KeyMaterial, KEY_NAME_BYTES, zeroize } from './key-material.ts';

/** Upper bound of keys in one ring (src/contract): the agent and the bridge plugin enforce the same bound. */
export { MAX_RING_KEYS };

export type RingFormatErrorCode = 'empty' | 'misaligned' | 'too-many-keys' | 'duplicate-key-name' | 'zero-key';

/** A malformed ring. The message names the rule broken and key positions, never bytes. */
export class RingFormatError extends Error {
  override name = 'RingFormatError';
  readonly code: RingFormatErrorCode;
  constructor(code: RingFormatErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Concatenates keys in push order (the first encrypts). The caller zeroes the result after use. */
export function encodeRing(keys: readonly KeyMaterial[]): Buffer {
  checkCount(keys.length);
  checkDistinctNames(keys);
  const out = Buffer.alloc(keys.length * KEY_BYTES);
  keys.forEach((k, i) => k.copyInto(out, i * KEY_BYTES));
  return out;
}

/** The ring fingerprint (fingerprint.ts) of keys in push order, without keeping the bytes around. */
export function ringFingerprintOf(keys: readonly KeyMaterial[]): string {
  const bytes = encodeRing(keys);
  try {
    return ringFingerprint(bytes);
  } finally {
    zeroize(bytes);
  }
}

/**
 * Parses an ATS ring strictly: non-empty, a multiple of 48 bytes, at most MAX_RING_KEYS keys,
 * distinct key names, no all-zero key (what a zeroed buffer looks like). Returns keys in file
 * order; the input buffer is left untouched (the caller zeroes it).
 */
export function parseRing(bytes: Uint8Array): KeyMaterial[] {
  if (bytes.length === 0) {
    throw new RingFormatError('empty', 'the ring is empty; ATS would silently install a random key');
  }
  if (bytes.length % KEY_BYTES !== 0) {
    throw new RingFormatError(
      'misaligned',
      `the ring is ${bytes.length} bytes, not a multiple of ${KEY_BYTES}; ATS keys are 48 bytes ` +
        '(an 80-byte nginx/Envoy key is not an ATS key)',
    );
  }
  const count = bytes.length / KEY_BYTES;
  checkCount(count);
  const keys: KeyMaterial[] = [];
  for (let i = 0; i < count; i++) {
    const slice = bytes.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
    if (slice.every((b) => b === 0)) {
      throw new RingFormatError('zero-key', `key #${i} is all zeros (a destroyed or uninitialised key)`);
    }
    keys.push(KeyMaterial.fromBytes(slice));
  }
  try {
    checkDistinctNames(keys);
  } catch (err) {
    for (const k of keys) k.destroy();
    throw err;
  }
  return keys;
}

function checkCount(count: number): void {
  if (count === 0) throw new RingFormatError('empty', 'a ring needs at least one key');
  if (count > MAX_RING_KEYS) {
    throw new RingFormatError('too-many-keys', `the ring holds ${count} keys; at most ${MAX_RING_KEYS} are allowed`);
  }
}

function checkDistinctNames(keys: readonly KeyMaterial[]): void {
  for (let i = 0; i < keys.length; i++) {
    for (let j = i + 1; j < keys.length; j++) {
      if (keys[i]!.hasSameName(keys[j]!)) {
        throw new RingFormatError(
          'duplicate-key-name',
          `keys #${i} and #${j} share the same ${KEY_NAME_BYTES}-byte key name; ATS could not tell them apart`,
        );
      }
    }
  }
}
