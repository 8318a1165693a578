import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../../../src/agent/api-error.ts';
import { decodeRing, zeroRing } from '../../../src/agent/ring.ts';
import { keyFingerprint, ringFingerprint } from '../../../src/core/fingerprint.ts';
import { keyTraces, newKey } from '../../fixtures/keys.ts';
import { ringBody } from './fixtures.ts';

function refusal(body: unknown): ApiError {
  try {
    decodeRing(body);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('decodeRing accepted the body');
}

describe('decodeRing', () => {
  it('decodes a valid ring in push order with its fingerprints', () => {
    const [k1, k2, k3] = [newKey(), newKey(), newKey()];
    const ring = decodeRing(ringBody(7, [k1!, k2!, k3!], { states: ['active', 'staged', 'retired'] }));
    expect(ring.generation).toBe(7);
    expect(ring.revoke).toBe(false);
    expect(ring.keys.map((k) => k.equals(k1!) || k.equals(k2!) || k.equals(k3!))).toEqual([true, true, true]);
    expect(ring.keys[0]!.equals(k1!)).toBe(true);
    expect(ring.keyFingerprints).toEqual([keyFingerprint(k1!), keyFingerprint(k2!), keyFingerprint(k3!)]);
    expect(ring.activeFingerprint).toBe(keyFingerprint(k1!));
    expect(ring.ringFingerprint).toBe(ringFingerprint(Buffer.concat([k1!, k2!, k3!])));
    expect(ring.states).toEqual(['active', 'staged', 'retired']);
  });

  it('carries the revoke flag', () => {
    expect(decodeRing(ringBody(1, [newKey()], { revoke: true })).revoke).toBe(true);
  });

  it('zeroRing overwrites every key byte', () => {
    const ring = decodeRing(ringBody(1, [newKey(), newKey()]));
    zeroRing(ring);
    expect(ring.keys.every((k) => k.every((b) => b === 0))).toBe(true);
  });

  const k = newKey();
  const valid = ringBody(3, [k]);
  const key0 = valid.keys[0]!;
  const cases: Array<[string, unknown, RegExp]> = [
    ['a non-object body', 'ring', /invalid ring/],
    ['a missing generation', { keys: valid.keys }, /generation/],
    ['generation 0', { ...valid, generation: 0 }, /generation/],
    ['a fractional generation', { ...valid, generation: 1.5 }, /generation/],
    ['a generation given as a string', { ...valid, generation: '3' }, /generation/],
    ['an empty ring', { ...valid, keys: [] }, /keys/],
    ['17 keys', { ...valid, keys: Array.from({ length: 17 }, (_, i) => ({ ...key0, state: i === 0 ? 'active' : 'staged' })) }, /keys/],
    ['an unknown top-level field', { ...valid, extra: 1 }, /invalid ring/],
    ['an unknown key field', { ...valid, keys: [{ ...key0, name: 'x' }] }, /keys\/0/],
    ['an unknown state', { ...valid, keys: [{ ...key0, state: 'destroyed' }] }, /keys\/0\/state/],
    ['an upper-case fingerprint', { ...valid, keys: [{ ...key0, fingerprint: key0.fingerprint.toUpperCase() }] }, /keys\/0\/fingerprint/],
    ['a 47-byte key', ringBody(3, [newKey().subarray(0, 47)]), /keys\/0\/material must be base64 of exactly 48 bytes/],
    ['a 49-byte key', ringBody(3, [Buffer.concat([newKey(), Buffer.alloc(1)])]), /exactly 48 bytes/],
    ['an 80-byte (nginx) key', ringBody(3, [Buffer.concat([newKey(), newKey()]).subarray(0, 80)]), /keys\/0\/material/],
    ['a non-base64 material', { ...valid, keys: [{ ...key0, material: `${key0.material.slice(0, 60)}!!!!` }] }, /keys\/0\/material/],
    ['url-safe base64', { ...valid, keys: [{ ...key0, material: `-_${key0.material.slice(2)}` }] }, /keys\/0\/material/],
    ['64 base64 characters that decode to 47 bytes', { ...valid, keys: [{ ...key0, material: `${key0.material.slice(0, 63)}=` }] }, /exactly 48 bytes/],
    ['a fingerprint that is not of its material', { ...valid, keys: [{ ...key0, fingerprint: keyFingerprint(newKey()) }] }, /keys\/0\/fingerprint does not match its material/],
    ['the same key twice', ringBody(3, [k, k]), /keys\/1 repeats an earlier key/],
    ['keys[0] not active', ringBody(3, [k], { states: ['staged'] }), /keys\[0\] must be 'active'/],
    ['two active keys', ringBody(3, [k, newKey()], { states: ['active', 'active'] }), /keys\/1\/state/],
    ['revoke that is not a boolean', { ...valid, revoke: 'yes' }, /revoke/],
  ];

  it.each(cases)('refuses %s with 400 and a message naming the rule', (_name, body, message) => {
    const err = refusal(body);
    expect(err.status).toBe(400);
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(message);
  });

  it('never puts key material into a refusal message', () => {
    const keys = [newKey(), newKey()];
    const good = ringBody(2, keys);
    const bodies = [
      { ...good, keys: [good.keys[0]!, { ...good.keys[1]!, fingerprint: keyFingerprint(newKey()) }] },
      { ...good, keys: [good.keys[0]!, { ...good.keys[1]!, state: 'bogus' }] },
      { ...good, keys: [{ ...good.keys[0]!, material: good.keys[0]!.material.slice(0, 63) }] },
      { ...good, generation: good.keys[0]!.material },
    ];
    for (const body of bodies) {
      const message = refusal(body).message;
      for (const trace of [...keyTraces(keys), good.keys[0]!.material.slice(0, 63)]) expect(message).not.toContain(trace);
    }
  });
});
