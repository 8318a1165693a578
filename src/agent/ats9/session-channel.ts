// Session sharing's export channel: a FIFO the agent creates and reads, the ticketkeys_bridge
// plugin writes one line per new TLS 1.2 session it cached (plugin.config:
// `ticketkeys_bridge.so --session-fifo=<path>`):
//
//   tks1 id=<hex, 1..32 bytes> t=<session time, unix s> to=<session timeout s> der=<hex DER, 1..256 bytes>
//
//   const ch = await SessionChannel.open('/run/trafficserver/ticketkeys-sessions', (s: ExportedSession) => …, { mode: 0o600 })
//   ch.counts                              records by outcome (sessions, invalid, oversized)
//   await ch.close()                       sharing off: the plugin then counts export_no_reader;
//                                          SessionChannel.open(path, …) again re-opens it
//
// The DER holds the session's master secret: every buffer that held a record is zeroed once
// parsed, and the consumer zeroes ExportedSession.der after use. Nothing of a record is logged.
// Records are untrusted input (anything in the pod that can write the FIFO can also message the
// plugin): bounded lines, strict parsing, malformed records counted and dropped.
//
// As the ack channel (ack-channel.ts): the FIFO is created mode 0600 (0620 when ATS runs as
// another user of the agent's group), a path that is not a FIFO of this user is refused, it is
// opened O_RDWR|O_NONBLOCK|O_NOFOLLOW and read through libuv's event loop (fifo.ts).
import type { Socket } from 'node:net';
import { SESSION_ID_MAX_BYTES, SESSION_MAX_DER_BYTES, SESSION_RECORD_MAX_BYTES, SESSION_RECORD_TAG } from '../../contract/plugin-wire.ts';
import type { ExportedSession } from '../ats-bridge.ts';
import { openFifoReader } from './fifo.ts';

/** Longest record accepted, newline excluded (the plugin writes at most SESSION_RECORD_MAX_BYTES with it). */
export const SESSION_LINE_MAX = SESSION_RECORD_MAX_BYTES;

export type SessionRecordParseResult = { ok: true; session: ExportedSession } | { ok: false; error: string };

/** Decimal, no sign, no leading zero, at most 15 digits (a safe integer). */
function uintAt(line: Buffer, start: number, end: number): number | undefined {
  const n = end - start;
  if (n < 1 || n > 15 || (n > 1 && line[start] === 0x30)) return undefined;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = line[i]!;
    if (c < 0x30 || c > 0x39) return undefined;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

/** The value of every hex digit (either case) by its byte, -1 for any other byte. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX_VALUE[d.toString(16).charCodeAt(0)] = d;
  HEX_VALUE[d.toString(16).toUpperCase().charCodeAt(0)] = d;
}

/** Hex in line[start, end) into a new Buffer of 1..maxBytes bytes; undefined when not that. */
function hexAt(line: Buffer, start: number, end: number, maxBytes: number): Buffer | undefined {
  const n = end - start;
  if (n < 2 || n % 2 !== 0 || n / 2 > maxBytes) return undefined;
  const out = Buffer.alloc(n / 2);
  // A table lookup per digit: the agent runs without an optimising compiler (runtime-flags.ts).
  for (let i = 0, j = start; i < out.length; i++, j += 2) {
    const hi = HEX_VALUE[line[j]!]!;
    const lo = HEX_VALUE[line[j + 1]!]!;
    if ((hi | lo) < 0) {
      out.fill(0);
      return undefined;
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

const FIELDS = ['id', 't', 'to', 'der'] as const;

/**
 * Parses one record (without its newline). Strict: the `tks1` tag, then exactly the fields id, t,
 * to, der in that order, single spaces, hex of the right sizes, bounded numbers. Works on the bytes:
 * no string ever holds the DER. The line is not modified; the caller zeroes it.
 */
export function parseSessionRecord(line: Buffer): SessionRecordParseResult {
  const fail = (error: string): SessionRecordParseResult => ({ ok: false, error });
  if (line.length > SESSION_LINE_MAX) return fail('line too long');
  const tag = Buffer.from(`${SESSION_RECORD_TAG} `, 'latin1');
  if (line.length < tag.length || !line.subarray(0, tag.length).equals(tag)) return fail('unknown record tag');
  const values: Array<[number, number]> = [];
  let at = tag.length;
  for (const [i, name] of FIELDS.entries()) {
    const key = Buffer.from(`${name}=`, 'latin1');
    if (!line.subarray(at, at + key.length).equals(key)) return fail(`expected field ${name}`);
    const start = at + key.length;
    const space = i === FIELDS.length - 1 ? -1 : line.indexOf(0x20, start);
    const end = space === -1 ? line.length : space;
    if (i < FIELDS.length - 1 && space === -1) return fail('missing fields');
    values.push([start, end]);
    at = end + 1;
  }
  const [idAt, tAt, toAt, derAt] = values as [[number, number], [number, number], [number, number], [number, number]];
  const time = uintAt(line, ...tAt);
  const timeoutSeconds = uintAt(line, ...toAt);
  if (time === undefined || timeoutSeconds === undefined) return fail('bad number');
  const id = hexAt(line, ...idAt, SESSION_ID_MAX_BYTES);
  if (!id) return fail(`id is not 1..${SESSION_ID_MAX_BYTES} bytes of hex`);
  const der = hexAt(line, ...derAt, SESSION_MAX_DER_BYTES);
  if (!der) return fail(`der is not 1..${SESSION_MAX_DER_BYTES} bytes of hex`);
  return { ok: true, session: { id, der, time, timeoutSeconds } };
}

/** Records read, by outcome. */
export interface SessionChannelCounts {
  /** Well-formed records handed to the consumer. */
  sessions: number;
  /** Malformed records (garbage, unknown fields, bad hex or sizes). */
  invalid: number;
  /** Lines longer than SESSION_LINE_MAX, dropped whole. */
  oversized: number;
}

export interface SessionChannelOptions {
  /** FIFO mode when the agent creates it (default 0o600; 0o620 when ATS runs as another user of the agent's group). */
  mode?: number;
  /** Told why a record was dropped (never its contents). */
  onInvalid?: (error: string) => void;
}

export class SessionChannel {
  readonly path: string;
  readonly counts: SessionChannelCounts = { sessions: 0, invalid: 0, oversized: 0 };
  readonly #socket: Socket;
  readonly #onSession: (s: ExportedSession) => void;
  readonly #onInvalid: ((error: string) => void) | undefined;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  /** Inside an oversized line: drop bytes up to the next newline. */
  #skipping = false;
  #closed = false;

  /**
   * Creates the FIFO when missing (mkfifo, `mode`), refuses a path that is anything else (a
   * file, a symlink) or a FIFO of another owner, sets its mode, and starts reading: every
   * well-formed record goes to onSession (which zeroes `der` after use).
   */
  static async open(path: string, onSession: (s: ExportedSession) => void, options: SessionChannelOptions = {}): Promise<SessionChannel> {
    const socket = await openFifoReader(path, options.mode ?? 0o600, 'session FIFO');
    return new SessionChannel(path, socket, onSession, options.onInvalid);
  }

  private constructor(path: string, socket: Socket, onSession: (s: ExportedSession) => void, onInvalid: ((error: string) => void) | undefined) {
    this.path = path;
    this.#socket = socket;
    this.#onSession = onSession;
    this.#onInvalid = onInvalid;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined); // a read error ends the channel; sharing stops exporting
  }

  get closed(): boolean {
    return this.#closed;
  }

  #invalid(kind: 'invalid' | 'oversized', error: string): void {
    this.counts[kind]++;
    this.#onInvalid?.(error);
  }

  #onData(chunk: Buffer): void {
    try {
      let at = 0;
      while (at < chunk.length) {
        const nl = chunk.indexOf(0x0a, at);
        const end = nl === -1 ? chunk.length : nl;
        const piece = chunk.subarray(at, end);
        if (nl !== -1 && !this.#skipping && this.#bufferedBytes === 0) {
          // A whole line inside the chunk (the usual case: the plugin writes whole lines): parsed
          // in place, no copy (the chunk is zeroed below).
          this.#parse(piece);
          at = nl + 1;
          continue;
        }
        if (!this.#skipping) {
          if (this.#bufferedBytes + piece.length > SESSION_LINE_MAX) {
            this.#skipping = true;
            this.#drop();
            this.#invalid('oversized', 'line too long');
          } else if (piece.length > 0) {
            this.#buffered.push(Buffer.from(piece));
            this.#bufferedBytes += piece.length;
          }
        }
        if (nl === -1) break;
        if (this.#skipping) this.#skipping = false;
        else this.#line();
        at = nl + 1;
      }
    } finally {
      chunk.fill(0);
    }
  }

  #drop(): void {
    for (const b of this.#buffered) b.fill(0);
    this.#buffered = [];
    this.#bufferedBytes = 0;
  }

  #line(): void {
    if (this.#bufferedBytes === 0) return;
    const pieces = this.#buffered;
    const line = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    if (pieces.length > 1) for (const b of pieces) b.fill(0);
    this.#buffered = [];
    this.#bufferedBytes = 0;
    try {
      this.#parse(line);
    } finally {
      line.fill(0);
    }
  }

  /** One complete line (not empty, without its newline): its session to the consumer, or counted. */
  #parse(line: Buffer): void {
    if (line.length === 0) return;
    if (line.length > SESSION_LINE_MAX) {
      this.#invalid('oversized', 'line too long');
      return;
    }
    const parsed = parseSessionRecord(line);
    if (!parsed.ok) {
      this.#invalid('invalid', parsed.error);
      return;
    }
    this.counts.sessions++;
    if (this.#closed) {
      parsed.session.der.fill(0);
      return;
    }
    this.#onSession(parsed.session);
  }

  /** Stops reading; records still in the pipe stay there (or are lost when nobody re-opens it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.destroy();
    });
    this.#drop();
  }
}
