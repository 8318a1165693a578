// Session stream frames: the encoder's bounds, a strict decoder (every malformed frame refused,
// nothing past its end accepted), and the reader that cuts a byte stream into frames whatever
// the chunking, refusing a frame length out of range before buffering it, zeroing what it copied.
import { describe, expect, it } from '@jest/globals';
import { decodeSessionFrame, encodeSessionFrame, SessionFrameError, SessionFrameReader } from '../../../src/agent/session-frames.ts';
import { SESSION_FRAME_MAX_BYTES, SESSIONS_BATCH_MAX } from '../../../src/contract/agent-wire.ts';

const session = (i: number, derBytes = 200) => ({ id: Buffer.alloc(32, i), der: Buffer.alloc(derBytes, 0x30 + (i % 10)), time: 1_800_000_000 + i });

describe('encodeSessionFrame / decodeSessionFrame', () => {
  it('round-trips 1 and 64 sessions of every size, the length prefix counting the rest', () => {
    for (const sessions of [[session(1, 1)], Array.from({ length: SESSIONS_BATCH_MAX }, (_, i) => session(i, 256))]) {
      const frame = encodeSessionFrame(sessions);
      expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
      expect(frame.length - 4).toBeLessThanOrEqual(SESSION_FRAME_MAX_BYTES);
      const decoded = decodeSessionFrame(frame.subarray(4))!;
      expect(decoded.map((s) => [s.id.toString('hex'), s.der.toString('hex'), s.time])).toEqual(
        sessions.map((s) => [s.id.toString('hex'), s.der.toString('hex'), s.time]),
      );
    }
    const one = encodeSessionFrame([{ id: Buffer.from([7]), der: Buffer.from([1]), time: 0 }]);
    expect(decodeSessionFrame(one.subarray(4))).toEqual([{ id: Buffer.from([7]), der: Buffer.from([1]), time: 0 }]);
  });

  it('refuses to encode what the receiver would refuse', () => {
    expect(() => encodeSessionFrame([])).toThrow(RangeError);
    expect(() => encodeSessionFrame(Array.from({ length: 65 }, (_, i) => session(i)))).toThrow(RangeError);
    expect(() => encodeSessionFrame([{ ...session(1), id: Buffer.alloc(33) }])).toThrow(RangeError);
    expect(() => encodeSessionFrame([{ ...session(1), der: Buffer.alloc(257) }])).toThrow(RangeError);
    expect(() => encodeSessionFrame([{ ...session(1), time: -1 }])).toThrow(RangeError);
  });

  it.each([
    ['empty', () => Buffer.alloc(0)],
    ['another version', (b: Buffer) => Buffer.concat([Buffer.from([2]), b.subarray(1)])],
    ['count 0', (b: Buffer) => Buffer.concat([b.subarray(0, 1), Buffer.from([0]), b.subarray(2)])],
    ['count over 64', (b: Buffer) => Buffer.concat([b.subarray(0, 1), Buffer.from([65]), b.subarray(2)])],
    ['count above what follows', (b: Buffer) => Buffer.concat([b.subarray(0, 1), Buffer.from([3]), b.subarray(2)])],
    ['an id length of 0', (b: Buffer) => Buffer.concat([b.subarray(0, 2), Buffer.from([0]), b.subarray(3)])],
    ['an id length of 33', (b: Buffer) => Buffer.concat([b.subarray(0, 2), Buffer.from([33]), b.subarray(3)])],
    ['a DER length of 0', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt16BE(0, 35); return c; }],
    ['a DER length of 257', (b: Buffer) => { const c = Buffer.from(b); c.writeUInt16BE(257, 35); return c; }],
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 1)],
    ['trailing bytes', (b: Buffer) => Buffer.concat([b, Buffer.from([0])])],
  ])('refuses a frame body with %s', (_name, mutate) => {
    const body = encodeSessionFrame([session(1), session(2)]).subarray(4);
    expect(decodeSessionFrame(mutate(Buffer.from(body)))).toBeUndefined();
  });
});

describe('SessionFrameReader', () => {
  const frames = [encodeSessionFrame([session(1)]), encodeSessionFrame([session(2), session(3)]), encodeSessionFrame([session(4, 256)])];
  const stream = Buffer.concat(frames);

  it.each([1, 3, 4, 5, 97, 1000, stream.length])('cuts a stream into its frames, in chunks of %i bytes', (size) => {
    const reader = new SessionFrameReader();
    const got: Buffer[] = [];
    for (let at = 0; at < stream.length; at += size) got.push(...reader.push(Buffer.from(stream.subarray(at, at + size))));
    expect(got.map((f) => f.toString('hex'))).toEqual(frames.map((f) => f.subarray(4).toString('hex')));
    expect(reader.pending).toBe(0);
  });

  it('keeps an unfinished frame, and zeroes every chunk it was given', () => {
    const reader = new SessionFrameReader();
    const first = Buffer.from(stream.subarray(0, 10));
    expect(reader.push(first)).toEqual([]);
    expect(first.every((b) => b === 0)).toBe(true);
    expect(reader.pending).toBe(10);
    const rest = Buffer.from(stream.subarray(10));
    expect(reader.push(rest)).toHaveLength(3);
    expect(rest.every((b) => b === 0)).toBe(true);
    reader.clear();
    expect(reader.pending).toBe(0);
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['over the maximum', SESSION_FRAME_MAX_BYTES + 1],
    ['2^32 - 1', 0xffffffff],
  ])('refuses a frame length of %s at once, from its 4 bytes alone', (_name, len) => {
    const reader = new SessionFrameReader();
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(len);
    expect(() => reader.push(prefix)).toThrow(SessionFrameError);
    expect(reader.pending).toBe(0);
  });

  it('refuses text (an HTTP or JSON client on the stream route) from its first bytes', () => {
    expect(() => new SessionFrameReader().push(Buffer.from('{"sessions":[]}'))).toThrow(SessionFrameError);
  });
});
