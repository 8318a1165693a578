import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  encodeRequest,
  marshall,
  MAX_MESSAGE_BYTES,
  mgmtErrorName,
  MgmtProtocolError,
  OpType,
  parse,
  ResponseReader,
  type Field,
} from '../../../../src/agent/ats9/mgmt-marshall.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('marshall', () => {
  it('lays out INT, LONG, STRING and DATA like MgmtMarshall.cc (little-endian, strings NUL-terminated)', () => {
    const out = marshall([
      { type: 'int', value: 21 },
      { type: 'long', value: -2n },
      { type: 'string', value: 'ab' },
      { type: 'data', value: Uint8Array.of(0, 0xff) },
    ]);
    expect(hex(out)).toBe(
      ['15000000', 'feffffffffffffff', '03000000' + '616200', '02000000' + '00ff'].join(''),
    );
  });

  it('marshals an empty string as length 1 (the NUL) and empty data as length 0', () => {
    expect(hex(marshall([{ type: 'string', value: '' }]))).toBe('0100000000');
    expect(hex(marshall([{ type: 'data', value: new Uint8Array(0) }]))).toBe('00000000');
  });

  it('refuses a string with an embedded NUL', () => {
    expect(() => marshall([{ type: 'string', value: 'a\0b' }])).toThrow(MgmtProtocolError);
  });
});

describe('encodeRequest', () => {
  it('prefixes the total length: a LIFECYCLE_MESSAGE request', () => {
    const req = encodeRequest([
      { type: 'int', value: OpType.LIFECYCLE_MESSAGE },
      { type: 'string', value: 't' },
      { type: 'data', value: Uint8Array.of(7) },
    ]);
    // 4 (op) + 4+2 (tag "t\0") + 4+1 (data) = 15
    expect(hex(req)).toBe('0f000000' + '15000000' + '02000000' + '7400' + '01000000' + '07');
  });

  it('uses the 9.2 op numbers', () => {
    expect(OpType).toEqual({ RECORD_GET: 1, PROXY_STATE_GET: 2, RECONFIGURE: 4, LIFECYCLE_MESSAGE: 21 });
  });
});

describe('parse', () => {
  it('reads a RECORD_GET response', () => {
    const value = Buffer.alloc(8);
    value.writeBigInt64LE(1234567890123n);
    const body = marshall([
      { type: 'int', value: 0 },
      { type: 'int', value: 1 },
      { type: 'int', value: 0 },
      { type: 'string', value: 'plugin.x' },
      { type: 'data', value },
    ]);
    const [err, rclass, type, name, data] = parse(body, ['int', 'int', 'int', 'string', 'data'] as const);
    expect([err, rclass, type, name]).toEqual([0, 1, 0, 'plugin.x']);
    expect(Buffer.from(data).readBigInt64LE(0)).toBe(1234567890123n);
  });

  it('rejects truncated fields, trailing bytes and unterminated strings', () => {
    expect(() => parse(Uint8Array.of(1, 0, 0), ['int'] as const)).toThrow(/truncated int/);
    expect(() => parse(Uint8Array.of(5, 0, 0, 0, 1), ['data'] as const)).toThrow(/truncated data/);
    expect(() => parse(Uint8Array.of(0, 0, 0, 0, 9), ['int'] as const)).toThrow(/trailing/);
    expect(() => parse(Uint8Array.of(1, 0, 0, 0, 0x41), ['string'] as const)).toThrow(/NUL/);
  });

  it('round-trips any fields', () => {
    const field: fc.Arbitrary<Field> = fc.oneof(
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((value) => ({ type: 'int' as const, value })),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: 'long' as const, value })),
      fc.string().filter((s) => !s.includes('\0')).map((value) => ({ type: 'string' as const, value })),
      fc.uint8Array({ maxLength: 64 }).map((value) => ({ type: 'data' as const, value })),
    );
    fc.assert(
      fc.property(fc.array(field, { maxLength: 8 }), (fields) => {
        const parsed = parse(marshall(fields), fields.map((f) => f.type));
        expect(parsed.map((v) => (v instanceof Uint8Array ? hex(v) : v))).toEqual(
          fields.map((f) => (f.value instanceof Uint8Array ? hex(f.value) : f.value)),
        );
      }),
    );
  });
});

describe('ResponseReader', () => {
  const frame = (body: Buffer) => Buffer.concat([Buffer.from(Uint32Array.of(body.length).buffer), body]);

  it('reassembles responses split anywhere and several in one chunk', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (bodies, cuts) => {
        const stream = Buffer.concat(bodies.map((b) => frame(Buffer.from(b))));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const reader = new ResponseReader();
        const got: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          got.push(...reader.push(stream.subarray(prev, p)));
          prev = p;
        }
        expect(got.map(hex)).toEqual(bodies.map(hex));
        expect(reader.pendingBytes).toBe(0);
      }),
    );
  });

  it('refuses a response above the size limit', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(MAX_MESSAGE_BYTES + 1);
    expect(() => new ResponseReader().push(head)).toThrow(MgmtProtocolError);
  });
});

describe('mgmtErrorName', () => {
  it('names TSMgmtError codes', () => {
    expect(mgmtErrorName(0)).toBe('TS_ERR_OKAY');
    expect(mgmtErrorName(11)).toBe('TS_ERR_PARAMS');
    expect(mgmtErrorName(13)).toBe('TS_ERR_PERMISSION_DENIED');
    expect(mgmtErrorName(99)).toBe('TS_ERR_99');
  });
});
