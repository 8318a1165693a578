// ATS 9 management-API wire format (traffic_manager's <runtimedir>/mgmtapi.sock), written from
// the 9.2.x sources mgmt/utils/MgmtMarshall.cc and mgmt/api/NetworkMessage.cc. Pure: no I/O.
//
// Fields are marshalled back to back in host byte order (little-endian on every platform ATS
// ships for; traffic_manager runs on the same host):
//   INT    int32
//   LONG   int64
//   STRING int32 length (including the NUL) + bytes + NUL
//   DATA   int32 length + bytes
// A request is  int32 total-length + fields, the first field being the INT op type.
// A response is one DATA field (int32 length + bytes) whose bytes are the response fields,
// the first being an INT TSMgmtError code.

/** OpType numbers (NetworkMessage.h, enum class OpType), only the ones we speak. */
export const OpType = {
  RECORD_GET: 1,
  PROXY_STATE_GET: 2,
  RECONFIGURE: 4,
  LIFECYCLE_MESSAGE: 21,
} as const;
export type OpType = (typeof OpType)[keyof typeof OpType];

/** TSMgmtError codes (mgmtapi.h), index = code. */
export const MGMT_ERROR_NAMES = [
  'TS_ERR_OKAY',
  'TS_ERR_READ_FILE',
  'TS_ERR_WRITE_FILE',
  'TS_ERR_PARSE_CONFIG_RULE',
  'TS_ERR_INVALID_CONFIG_RULE',
  'TS_ERR_NET_ESTABLISH',
  'TS_ERR_NET_READ',
  'TS_ERR_NET_WRITE',
  'TS_ERR_NET_EOF',
  'TS_ERR_NET_TIMEOUT',
  'TS_ERR_SYS_CALL',
  'TS_ERR_PARAMS',
  'TS_ERR_NOT_SUPPORTED',
  'TS_ERR_PERMISSION_DENIED',
  'TS_ERR_FAIL',
] as const;

export function mgmtErrorName(code: number): string {
  return MGMT_ERROR_NAMES[code] ?? `TS_ERR_${code}`;
}

/** TSRecordT (mgmtapi.h): the type of a RECORD_GET value. */
export const RecordType = { INT: 0, COUNTER: 1, FLOAT: 2, STRING: 3, UNDEFINED: 4 } as const;

/** TSProxyStateT (mgmtapi.h). */
export const ProxyState = { ON: 0, OFF: 1, UNDEFINED: 2 } as const;

export type Field =
  | { type: 'int'; value: number }
  | { type: 'long'; value: bigint }
  | { type: 'string'; value: string }
  | { type: 'data'; value: Uint8Array };
export type FieldType = Field['type'];
type ValueOf<T extends FieldType> = Extract<Field, { type: T }>['value'];
export type Values<T extends readonly FieldType[]> = { [K in keyof T]: T[K] extends FieldType ? ValueOf<T[K]> : never };

/** Responses above this are treated as a protocol error (the largest real one is a few KB). */
export const MAX_MESSAGE_BYTES = 1 << 20;

export class MgmtProtocolError extends Error {
  override name = 'MgmtProtocolError';
}

function fieldLength(f: Field): number {
  switch (f.type) {
    case 'int':
      return 4;
    case 'long':
      return 8;
    case 'string':
      return 4 + Buffer.byteLength(f.value, 'utf8') + 1;
    case 'data':
      return 4 + f.value.length;
  }
}

/** Marshalls fields back to back (no outer length). */
export function marshall(fields: readonly Field[]): Buffer {
  const out = Buffer.alloc(fields.reduce((n, f) => n + fieldLength(f), 0));
  let at = 0;
  for (const f of fields) {
    switch (f.type) {
      case 'int':
        at = out.writeInt32LE(f.value, at);
        break;
      case 'long':
        at = out.writeBigInt64LE(f.value, at);
        break;
      case 'string': {
        if (f.value.includes('\0')) throw new MgmtProtocolError('string field contains NUL');
        const bytes = Buffer.from(f.value, 'utf8');
        at = out.writeInt32LE(bytes.length + 1, at);
        at += bytes.copy(out, at);
        out[at++] = 0;
        break;
      }
      case 'data':
        at = out.writeInt32LE(f.value.length, at);
        out.set(f.value, at);
        at += f.value.length;
        break;
    }
  }
  return out;
}

/** Parses fields of the given types from buf; trailing bytes are an error. */
export function parse<const T extends readonly FieldType[]>(buf: Uint8Array, types: T): Values<T> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const out: unknown[] = [];
  let at = 0;
  const need = (n: number, what: string) => {
    if (b.length - at < n) throw new MgmtProtocolError(`truncated ${what} field at offset ${at}`);
  };
  for (const t of types) {
    switch (t) {
      case 'int':
        need(4, t);
        out.push(b.readInt32LE(at));
        at += 4;
        break;
      case 'long':
        need(8, t);
        out.push(b.readBigInt64LE(at));
        at += 8;
        break;
      case 'string':
      case 'data': {
        need(4, t);
        const len = b.readUInt32LE(at);
        at += 4;
        need(len, t);
        const bytes = b.subarray(at, at + len);
        at += len;
        if (t === 'data') {
          out.push(Buffer.from(bytes)); // a copy: callers may keep it past the read buffer
        } else {
          // ATS marshals a NULL string as "" (length 1); a length 0 string is tolerated as "".
          if (len > 0 && bytes[len - 1] !== 0) throw new MgmtProtocolError('string field not NUL-terminated');
          out.push(bytes.subarray(0, Math.max(0, len - 1)).toString('utf8'));
        }
        break;
      }
      default:
        throw new MgmtProtocolError(`unknown field type ${String(t)}`);
    }
  }
  if (at !== b.length) throw new MgmtProtocolError(`${b.length - at} trailing bytes`);
  return out as Values<T>;
}

/** A complete request: int32 length + marshalled fields (the first must be the op type). */
export function encodeRequest(fields: readonly Field[]): Buffer {
  const body = marshall(fields);
  const head = Buffer.alloc(4);
  head.writeInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/**
 * Splits a byte stream into responses (each a DATA field: int32 length + bytes).
 * push() returns the complete response bodies found so far.
 */
export class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32LE(0);
      if (len > MAX_MESSAGE_BYTES) throw new MgmtProtocolError(`response of ${len} bytes exceeds the limit`);
      if (this.buf.length < 4 + len) break;
      out.push(Buffer.from(this.buf.subarray(4, 4 + len)));
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }

  get pendingBytes(): number {
    return this.buf.length;
  }
}
