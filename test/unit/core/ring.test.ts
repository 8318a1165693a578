import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { KEY_BYTES, ringFingerprint } from '../../../src/core/fingerprint.ts';
import { KeyMaterial } from '../../../src/core/key-material.ts';
import { encodeRing, MAX_RING_KEYS, parseRing, RingFormatError, ringFingerprintOf } from '../../../src/core/ring.ts';
import { seededKeys as keys, seededRandom } from '../../fixtures/keys.ts';

function parseError(bytes: Uint8Array): RingFormatError {
  try {
    parseRing(bytes);
  } catch (err) {
    if (err instanceof RingFormatError) return err;
    throw err;
  }
  throw new Error('parseRing accepted the input');
}

describe('encodeRing', () => {
  it('concatenates keys in push order, the first one encrypting', () => {
    const ks = keys(3);
    const ring = encodeRing(ks);
    expect(ring).toHaveLength(3 * KEY_BYTES);
    ks.forEach((k, i) => expect(ring.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES).equals(k.copyBytes())).toBe(true));
  });

  it('refuses an empty ring, more than 16 keys, duplicate names and destroyed keys', () => {
    expect(() => encodeRing([])).toThrow(RingFormatError);
    expect(() => encodeRing(keys(MAX_RING_KEYS + 1))).toThrow(/17 keys/);
    const [a] = keys(1);
    expect(() => encodeRing([a!, KeyMaterial.fromBytes(a!.copyBytes())])).toThrow(/share the same 16-byte key name/);
    const [d] = keys(1, 2);
    d!.destroy();
    expect(() => encodeRing([d!])).toThrow(/destroyed/);
  });

  it('ringFingerprintOf is the ring fingerprint of the encoded bytes', () => {
    const ks = keys(4);
    expect(ringFingerprintOf(ks)).toBe(ringFingerprint(encodeRing(ks)));
    expect(ringFingerprintOf(ks)).not.toBe(ringFingerprintOf([...ks].reverse()));
  });
});

describe('parseRing', () => {
  it('round-trips any ring of 1 to 16 random keys', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_RING_KEYS }), fc.integer(), (n, seed) => {
        const ks = keys(n, seed);
        const parsed = parseRing(encodeRing(ks));
        expect(parsed.map((k) => k.fingerprint)).toEqual(ks.map((k) => k.fingerprint));
      }),
      { numRuns: 200 },
    );
  });

  it('returns keys independent of the input buffer', () => {
    const bytes = encodeRing(keys(2));
    const parsed = parseRing(bytes);
    const fps = parsed.map((k) => k.fingerprint);
    bytes.fill(0);
    expect(parsed.map((k) => ringFingerprintOf([k]))).toEqual(fps.map((_, i) => ringFingerprintOf([parsed[i]!])));
    expect(parsed[0]!.copyBytes().some((b) => b !== 0)).toBe(true);
  });

  it('rejects an empty buffer (ATS would install a random key)', () => {
    expect(parseError(new Uint8Array(0)).code).toBe('empty');
  });

  it('rejects lengths that are not a multiple of 48, e.g. an 80-byte nginx key', () => {
    const err = parseError(Buffer.from(seededRandom(9)(80)));
    expect(err.code).toBe('misaligned');
    expect(err.message).toContain('80 bytes, not a multiple of 48');
    for (const n of [1, 47, 49, 95, 97]) expect(parseError(Buffer.from(seededRandom(n)(n))).code).toBe('misaligned');
  });

  it('rejects more than 16 keys', () => {
    const err = parseError(Buffer.from(seededRandom(10)(17 * KEY_BYTES)));
    expect(err.code).toBe('too-many-keys');
    expect(err.message).toContain('17 keys');
  });

  it('rejects two keys with the same key name, naming their positions', () => {
    const [a, b] = keys(2);
    const dup = b!.copyBytes();
    a!.copyBytes().copy(dup, 0, 0, 16);
    const err = parseError(Buffer.concat([a!.copyBytes(), keys(1, 3)[0]!.copyBytes(), dup]));
    expect(err.code).toBe('duplicate-key-name');
    expect(err.message).toContain('keys #0 and #2');
  });

  it('rejects an all-zero key (a destroyed key must never be installed)', () => {
    const err = parseError(Buffer.concat([keys(1)[0]!.copyBytes(), Buffer.alloc(KEY_BYTES)]));
    expect(err.code).toBe('zero-key');
    expect(err.message).toContain('key #1');
  });

  it('never puts input bytes into an error message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 20 * KEY_BYTES }), (bytes) => {
        let message = '';
        try {
          parseRing(bytes);
          return;
        } catch (err) {
          message = (err as Error).message;
        }
        const b = Buffer.from(bytes);
        for (let off = 0; off + 4 <= b.length; off += 16) {
          const chunk = b.subarray(off, off + 4);
          expect(message).not.toContain(chunk.toString('hex'));
        }
        if (b.length >= 6) expect(message).not.toContain(b.subarray(0, 6).toString('base64'));
      }),
      { numRuns: 300 },
    );
  });
});
