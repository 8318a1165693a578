// Session sharing's export channel: a FIFO the agent creates and reads, the ticketkeys_bridge
// plugin writes the new TLS 1.2 sessions it cached (plugin.config
// `ticketkeys_bridge.so --session-fifo=<path>`), as binary messages (layout in plugin-wire.ts):
//
//   SESSION_EXPORT_MAGIC | u32 length | { u8 id len | id | u16 DER len | DER | u32 time | u32 timeout }…
//
//   const ch = await SessionChannel.open('/run/trafficserver/ticketkeys-sessions', (s: ExportedSession) => …, { mode: 0o600 })
//   ch.counts                              messages and sessions by outcome (sessions, invalid, oversized)
//   await ch.close()                       sharing off: the plugin then counts export_no_reader;
//                                          SessionChannel.open(path, …) again re-opens it
//
// The DER holds the master secret: every buffer that held a message is zeroed once parsed, and the
// consumer zeroes ExportedSession.der after use. Nothing of a message is logged. Messages are
// untrusted input (anything in the pod that can write the FIFO can also message the plugin):
// bounded lengths, strict parsing, malformed messages counted and dropped whole, and after bytes
// that are not a message the reader skips to the next magic.
//
// As the ack channel (ack-channel.ts): the FIFO is created mode 0600 (0620 when ATS runs as
// another user of the agent's group), a path that is not a FIFO of this user is refused, it is
// opened O_RDWR|O_NONBLOCK|O_NOFOLLOW and read through libuv's event loop (fifo.ts).
import type { Socket } from 'node:net';
import { SESSION_EXPORT_MAGIC, SESSION_EXPORT_MESSAGE_MAX_BYTES, SESSION_ID_MAX_BYTES, SESSION_MAX_DER_BYTES } from '../../contract/plugin-wire.ts';
import type { ExportedSession } from '../ats-bridge.ts';
import { openFifoReader } from './fifo.ts';

const MAGIC = Buffer.from(SESSION_EXPORT_MAGIC, 'latin1');
/** Magic and length. */
const PREFIX_BYTES = 8;
/** The smallest session: 1-byte id, 1-byte DER, time and timeout. */
const MIN_ENTRY_BYTES = 1 + 1 + 2 + 1 + 8;

export type SessionMessageParseResult = { ok: true; sessions: ExportedSession[] } | { ok: false; error: string };

/**
 * The sessions of one message body (what follows magic and length), as copies; all or nothing:
 * a body that is not exactly a sequence of well-formed sessions is refused whole. Walks the body
 * once to check it before copying anything. The body is not modified; the caller zeroes it.
 */
export function parseSessionMessage(body: Buffer): SessionMessageParseResult {
  const fail = (error: string): SessionMessageParseResult => ({ ok: false, error });
  if (body.length < MIN_ENTRY_BYTES) return fail('message without a session');
  let count = 0;
  for (let at = 0; at < body.length; count++) {
    const idLen = body[at]!;
    if (idLen < 1 || idLen > SESSION_ID_MAX_BYTES) return fail(`id is not 1..${SESSION_ID_MAX_BYTES} bytes`);
    if (body.length - at < 1 + idLen + 2) return fail('session cut short');
    const derLen = body.readUInt16BE(at + 1 + idLen);
    if (derLen < 1 || derLen > SESSION_MAX_DER_BYTES) return fail(`der is not 1..${SESSION_MAX_DER_BYTES} bytes`);
    const size = 1 + idLen + 2 + derLen + 8;
    if (body.length - at < size) return fail('session cut short');
    at += size;
  }
  const sessions: ExportedSession[] = new Array(count);
  for (let i = 0, at = 0; i < count; i++) {
    const idLen = body[at]!;
    const derLen = body.readUInt16BE(at + 1 + idLen);
    const der = at + 1 + idLen + 2;
    sessions[i] = {
      id: Buffer.from(body.subarray(at + 1, at + 1 + idLen)),
      der: Buffer.from(body.subarray(der, der + derLen)),
      time: body.readUInt32BE(der + derLen),
      timeoutSeconds: body.readUInt32BE(der + derLen + 4),
    };
    at = der + derLen + 8;
  }
  return { ok: true, sessions };
}

/** What was read, by outcome. */
export interface SessionChannelCounts {
  /** Sessions of well-formed messages, handed to the consumer. */
  sessions: number;
  /** Malformed messages, and runs of bytes that are not a message (skipped up to the next magic). */
  invalid: number;
  /** Messages whose length is beyond SESSION_EXPORT_MESSAGE_MAX_BYTES (skipped up to the next magic). */
  oversized: number;
}

export interface SessionChannelOptions {
  /** FIFO mode when the agent creates it (default 0o600; 0o620 when ATS runs as another user of the agent's group). */
  mode?: number;
  /** Told why a message was dropped (never its contents). */
  onInvalid?: (error: string) => void;
}

export class SessionChannel {
  readonly path: string;
  readonly counts: SessionChannelCounts = { sessions: 0, invalid: 0, oversized: 0 };
  readonly #socket: Socket;
  readonly #onSession: (s: ExportedSession) => void;
  readonly #onInvalid: ((error: string) => void) | undefined;
  /** The start of an unfinished message (at most SESSION_EXPORT_MESSAGE_MAX_BYTES). */
  #held: Buffer = Buffer.alloc(0);
  /** Skipping bytes that are not a message (counted once). */
  #resyncing = false;
  #closed = false;

  /**
   * Creates the FIFO when missing (mkfifo, `mode`), refuses a path that is anything else (a
   * file, a symlink) or a FIFO of another owner, sets its mode, and starts reading: every
   * session of a well-formed message goes to onSession (which zeroes `der` after use).
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
    const all = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    let at = 0;
    try {
      while (all.length - at >= PREFIX_BYTES) {
        const length = all.readUInt32BE(at + 4);
        const magic = MAGIC.compare(all, at, at + MAGIC.length) === 0;
        if (!magic || length < MIN_ENTRY_BYTES || length > SESSION_EXPORT_MESSAGE_MAX_BYTES - PREFIX_BYTES) {
          if (!this.#resyncing) {
            if (magic && length > SESSION_EXPORT_MESSAGE_MAX_BYTES - PREFIX_BYTES) this.#invalid('oversized', 'message too long');
            else this.#invalid('invalid', 'not a session message');
            this.#resyncing = true;
          }
          const next = all.indexOf(MAGIC, at + 1);
          at = next === -1 ? all.length - (MAGIC.length - 1) : next; // keep what may start a magic
          continue;
        }
        if (all.length - at - PREFIX_BYTES < length) break; // the rest comes with a later read
        this.#resyncing = false;
        this.#message(all.subarray(at + PREFIX_BYTES, at + PREFIX_BYTES + length));
        at += PREFIX_BYTES + length;
      }
      const held = at === all.length ? Buffer.alloc(0) : Buffer.from(all.subarray(at));
      this.#held.fill(0);
      this.#held = held;
    } finally {
      all.fill(0);
      chunk.fill(0);
    }
  }

  #message(body: Buffer): void {
    const parsed = parseSessionMessage(body);
    if (!parsed.ok) {
      this.#invalid('invalid', parsed.error);
      return;
    }
    this.counts.sessions += parsed.sessions.length;
    for (const s of parsed.sessions) {
      if (this.#closed) s.der.fill(0);
      else this.#onSession(s);
    }
  }

  #drop(): void {
    this.#held.fill(0);
    this.#held = Buffer.alloc(0);
    this.#resyncing = false;
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
