// The sessions the agent hands the plugin, as a lifecycle message (tag ticketkeys.sessions, hex
// text) and as a message of the import FIFO (binary): exact bytes, and the sizes the plugin would
// refuse are refused before anything is sent.
import { describe, expect, it } from '@jest/globals';
import { encodeSessionImport, encodeSessionImportMessage } from '../../../../src/agent/ats9/plugin-protocol.ts';
import { SESSION_IMPORT_MAX_SESSIONS, SESSION_IMPORT_MESSAGE_MAX_BYTES, SESSIONS_TAG } from '../../../../src/contract/plugin-wire.ts';

const id = (b: number, n = 32) => Buffer.alloc(n, b);
const der = (b: number, n = 160) => Buffer.alloc(n, b);

describe('encodeSessionImport', () => {
  it('writes the header line, then one "s id=<hex> der=<hex>" line per session, in order', () => {
    const out = encodeSessionImport({
      ttlSeconds: 300,
      notBefore: 1765000000,
      sessions: [
        { id: Buffer.from([0x01, 0xab]), der: Buffer.from([0x30, 0x82, 0xff]) },
        { id: Buffer.from([0xcd]), der: Buffer.from([0x00]) },
      ],
    });
    expect(out.toString('latin1')).toBe('v1 ttl=300 notbefore=1765000000\ns id=01ab der=3082ff\ns id=cd der=00\n');
    expect(SESSIONS_TAG).toBe('ticketkeys.sessions');
  });

  it('holds 64 sessions of the largest sizes', () => {
    const sessions = Array.from({ length: SESSION_IMPORT_MAX_SESSIONS }, (_, i) => ({ id: id(i), der: der(i, 256) }));
    const out = encodeSessionImport({ ttlSeconds: 86_400, notBefore: 0, sessions });
    const lines = out.toString('latin1').split('\n');
    expect(lines).toHaveLength(SESSION_IMPORT_MAX_SESSIONS + 2); // header, sessions, '' after the last newline
    expect(lines[64]).toBe(`s id=${'3f'.repeat(32)} der=${'3f'.repeat(256)}`);
  });

  it('as an import FIFO message: magic, length, ttl, notbefore, then each id and DER with their lengths', () => {
    const out = encodeSessionImportMessage({
      ttlSeconds: 300,
      notBefore: 1765000000,
      sessions: [
        { id: Buffer.from([0x01, 0xab]), der: Buffer.from([0x30, 0x82, 0xff]) },
        { id: Buffer.from([0xcd]), der: Buffer.from([0x00]) },
      ],
    });
    expect(out.toString('hex')).toBe(
      Buffer.from('TKI1', 'latin1').toString('hex') +
        '00000015' + // 21 bytes follow
        '0000012c' + // ttl 300
        '6933c340' + // notbefore 1765000000
        '02' + '01ab' + '0003' + '3082ff' +
        '01' + 'cd' + '0001' + '00',
    );
  });

  it('as an import FIFO message, 64 sessions of the largest sizes fill exactly the largest message', () => {
    const sessions = Array.from({ length: SESSION_IMPORT_MAX_SESSIONS }, (_, i) => ({ id: id(i), der: der(i, 256) }));
    const out = encodeSessionImportMessage({ ttlSeconds: 86_400, notBefore: 0xffffffff, sessions });
    expect(out.length).toBe(SESSION_IMPORT_MESSAGE_MAX_BYTES);
    expect(out.readUInt32BE(4)).toBe(SESSION_IMPORT_MESSAGE_MAX_BYTES - 8);
    expect(out.subarray(out.length - 256).equals(der(63, 256))).toBe(true);
    expect(() => encodeSessionImportMessage({ ttlSeconds: 1, notBefore: 0x100000000, sessions })).toThrow(RangeError);
  });

  it.each([
    ['ttl 0', { ttlSeconds: 0, notBefore: 0, sessions: [{ id: id(1), der: der(1) }] }],
    ['ttl over a day', { ttlSeconds: 86_401, notBefore: 0, sessions: [{ id: id(1), der: der(1) }] }],
    ['a fractional ttl', { ttlSeconds: 1.5, notBefore: 0, sessions: [{ id: id(1), der: der(1) }] }],
    ['a negative notBefore', { ttlSeconds: 1, notBefore: -1, sessions: [{ id: id(1), der: der(1) }] }],
    ['no sessions', { ttlSeconds: 1, notBefore: 0, sessions: [] }],
    ['65 sessions', { ttlSeconds: 1, notBefore: 0, sessions: Array.from({ length: 65 }, () => ({ id: id(1), der: der(1) })) }],
    ['an empty id', { ttlSeconds: 1, notBefore: 0, sessions: [{ id: Buffer.alloc(0), der: der(1) }] }],
    ['a 33-byte id', { ttlSeconds: 1, notBefore: 0, sessions: [{ id: id(1, 33), der: der(1) }] }],
    ['an empty DER', { ttlSeconds: 1, notBefore: 0, sessions: [{ id: id(1), der: Buffer.alloc(0) }] }],
    ['a 257-byte DER', { ttlSeconds: 1, notBefore: 0, sessions: [{ id: id(1), der: der(1, 257) }] }],
  ])('refuses %s', (_what, input) => {
    expect(() => encodeSessionImport(input)).toThrow(RangeError);
    expect(() => encodeSessionImportMessage(input)).toThrow(RangeError);
  });

  it('puts no DER bytes in its errors', () => {
    const secret = der(0x5a, 257);
    for (const encode of [encodeSessionImport, encodeSessionImportMessage]) {
      try {
        encode({ ttlSeconds: 1, notBefore: 0, sessions: [{ id: id(1), der: secret }] });
      } catch (err) {
        expect(String(err)).not.toContain('5a5a');
      }
    }
    expect.assertions(2);
  });
});
