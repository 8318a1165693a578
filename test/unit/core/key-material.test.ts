import { describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { format } from 'pretty-format';
import { KEY_BYTES, keyFingerprint } from '../../../src/core/fingerprint.ts';
import { cryptoRandom, KeyDestroyedError, KeyMaterial, zeroize } from '../../../src/core/key-material.ts';
import { seededRandom } from '../../fixtures/keys.ts';

function bytesOf(k: KeyMaterial): Buffer {
  return k.copyBytes();
}

describe('KeyMaterial', () => {
  it('generates 48 bytes from the injected random source, key name included', () => {
    const expected = Buffer.from(seededRandom(1)(KEY_BYTES));
    const key = KeyMaterial.generate(seededRandom(1));
    expect(bytesOf(key).equals(expected)).toBe(true);
    expect(bytesOf(key)).toHaveLength(KEY_BYTES);
  });

  it('generates distinct keys from the CSPRNG by default', () => {
    const a = KeyMaterial.generate();
    const b = KeyMaterial.generate(cryptoRandom);
    expect(a.equals(b)).toBe(false);
    expect(a.hasSameName(b)).toBe(false);
  });

  it('zeroes the random buffer it was handed', () => {
    const raw = Buffer.from(seededRandom(2)(KEY_BYTES));
    KeyMaterial.generate(() => raw);
    expect(raw.every((b) => b === 0)).toBe(true);
  });

  it('rejects a random source that returns the wrong length', () => {
    expect(() => KeyMaterial.generate(() => Buffer.alloc(47, 1))).toThrow(/47 bytes/);
  });

  it('takes its fingerprint from fingerprint.ts', () => {
    const key = KeyMaterial.generate(seededRandom(3));
    expect(key.fingerprint).toBe(keyFingerprint(bytesOf(key)));
    expect(key.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('copies bytes in fromBytes, so later changes to the source do not leak in', () => {
    const src = Buffer.from(seededRandom(4)(KEY_BYTES));
    const key = KeyMaterial.fromBytes(src);
    const before = key.fingerprint;
    src.fill(0);
    expect(key.fingerprint).toBe(before);
    expect(keyFingerprint(bytesOf(key))).toBe(before);
  });

  it('copyBytes returns a copy the caller may zero', () => {
    const key = KeyMaterial.generate(seededRandom(5));
    zeroize(key.copyBytes());
    expect(keyFingerprint(key.copyBytes())).toBe(key.fingerprint);
  });

  it('rejects material that is not 48 bytes, naming only the length', () => {
    expect(() => KeyMaterial.fromBytes(Buffer.alloc(80, 7))).toThrow('a ticket key is exactly 48 bytes, got 80');
  });

  it('compares key names and whole keys', () => {
    const a = KeyMaterial.generate(seededRandom(6));
    const bytes = a.copyBytes();
    bytes[20] = bytes[20]! ^ 0xff; // same name, other secrets
    const b = KeyMaterial.fromBytes(bytes);
    expect(a.hasSameName(b)).toBe(true);
    expect(a.equals(b)).toBe(false);
    expect(a.equals(KeyMaterial.fromBytes(a.copyBytes()))).toBe(true);
  });

  it('destroy zeroes the bytes and makes every later use throw', () => {
    const key = KeyMaterial.generate(seededRandom(7));
    const target = Buffer.alloc(KEY_BYTES, 9);
    key.destroy();
    key.destroy(); // idempotent
    expect(key.destroyed).toBe(true);
    expect(() => key.copyBytes()).toThrow(KeyDestroyedError);
    expect(() => key.copyInto(target, 0)).toThrow(KeyDestroyedError);
    expect(() => key.equals(key)).toThrow(KeyDestroyedError);
    expect(String(key)).toBe(`KeyMaterial(${key.fingerprint}, destroyed)`);
  });

  it('shows only its fingerprint in JSON, String, util.inspect, errors and jest output', () => {
    const key = KeyMaterial.generate(seededRandom(8));
    const raw = key.copyBytes();
    const secrets = [raw.toString('hex'), raw.toString('base64'), raw.subarray(0, 16).toString('hex'), raw.subarray(0, 16).toString('base64')];
    const renderings = [
      JSON.stringify({ key }),
      String(key),
      `${key}`,
      inspect(key, { showHidden: true, depth: 10 }),
      inspect({ nested: [key] }),
      new Error(`failed with ${key}`).message,
      format(key),
      format({ key }),
    ];
    for (const text of renderings) {
      expect(text).toContain(key.fingerprint);
      for (const s of secrets) expect(text).not.toContain(s);
      expect(text).not.toMatch(/\b\d{1,3}(, \d{1,3}){15,}/); // no byte lists
    }
    expect(JSON.parse(JSON.stringify(key))).toEqual({ fingerprint: key.fingerprint });
    expect(Object.keys(key)).toEqual(['fingerprint']);
  });
});

describe('zeroize', () => {
  it('fills every buffer with zeros', () => {
    const a = Buffer.alloc(8, 1);
    const b = new Uint8Array([1, 2, 3]);
    zeroize(a, b);
    expect([...a, ...b].every((x) => x === 0)).toBe(true);
  });
});
