import { describe, expect, it } from '@jest/globals';
import { encodeFlush, encodeRawFrame, encodeRemoveSession, encodeRingFrame } from '../../../../src/agent/ats9/plugin-protocol.ts';
import { filledKey as key } from '../../../fixtures/keys.ts';

describe('encodeRingFrame', () => {
  it('writes "TKR1", version 1, flags, zero reserved, generation big-endian, then the keys in push order', () => {
    const frame = encodeRingFrame({ generation: 0x0102030405n, keys: [key(0xaa), key(0xbb)] });
    expect(frame.length).toBe(16 + 96);
    expect(frame.subarray(0, 16).toString('hex')).toBe('544b5231' + '01' + '00' + '0000' + '0000000102030405');
    expect(frame.subarray(16, 64).equals(key(0xaa))).toBe(true);
    expect(frame.subarray(64).equals(key(0xbb))).toBe(true);
  });

  it('sets bit 0 of the flags for a revoke, bit 1 for a reassert', () => {
    expect(encodeRingFrame({ generation: 1, keys: [key(1)], revoke: true })[5]).toBe(1);
    expect(encodeRingFrame({ generation: 1, keys: [key(1)], reassert: true })[5]).toBe(2);
    expect(encodeRingFrame({ generation: 1, keys: [key(1)], revoke: true, reassert: true })[5]).toBe(3);
  });

  it('accepts number and bigint generations up to 2^63-1', () => {
    expect(encodeRingFrame({ generation: Number.MAX_SAFE_INTEGER, keys: [key(1)] }).readBigUInt64BE(8)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    expect(encodeRingFrame({ generation: 2n ** 63n - 1n, keys: [key(1)] }).readBigUInt64BE(8)).toBe(2n ** 63n - 1n);
  });

  it.each([
    ['an empty ring', { generation: 1, keys: [] }],
    ['17 keys', { generation: 1, keys: Array.from({ length: 17 }, (_, i) => key(i)) }],
    ['a 47-byte key', { generation: 1, keys: [Buffer.alloc(47)] }],
    ['an 80-byte key', { generation: 1, keys: [Buffer.alloc(80)] }],
    ['generation 0', { generation: 0, keys: [key(1)] }],
    ['a negative generation', { generation: -1, keys: [key(1)] }],
    ['generation 2^63', { generation: 2n ** 63n, keys: [key(1)] }],
  ])('refuses %s', (_name, input) => {
    expect(() => encodeRingFrame(input)).toThrow(RangeError);
  });

  it('never puts key bytes in its error messages', () => {
    const k = Buffer.alloc(47, 0x5a);
    expect.assertions(3);
    try {
      encodeRingFrame({ generation: 1, keys: [k] });
    } catch (err) {
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).not.toContain(k.toString('hex'));
      expect((err as Error).message).not.toContain(k.toString('base64'));
    }
  });
});

describe('encodeRawFrame', () => {
  it('frames whatever it is given (for tests of the plugin’s own checks)', () => {
    const f = encodeRawFrame({ generation: 0n, ring: [Buffer.alloc(3)], magic: 'XXXX', version: 9, flags: 0x80, reserved: 0x0102 });
    expect(f.toString('hex')).toBe('58585858' + '09' + '80' + '0102' + '0000000000000000' + '000000');
  });
});

describe('cache commands', () => {
  it('encodes flush and remove <hex id>', () => {
    expect(encodeFlush().toString()).toBe('flush');
    expect(encodeRemoveSession('ABcd01').toString()).toBe('remove abcd01');
  });

  it.each(['', 'abc', 'zz', 'ab'.repeat(33), 'ab cd'])('refuses the id %j', (id) => {
    expect(() => encodeRemoveSession(id)).toThrow(RangeError);
  });
});
