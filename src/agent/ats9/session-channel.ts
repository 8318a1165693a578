// Session sharing's export channel: a FIFO the agent creates and reads, the ticketkeys_bridge
// plugin writes the new TLS 1.2 sessions it cached (plugin.config
// `ticketkeys_bridge.so --session-fifo=<path>`), as binary messages (layout in plugin-wire.ts):
//
//   SESSION_EXPORT_MAGIC | u32 length | { u8 id len | id | u16 DER len | DER | u32 time | u32 timeout }…
//
//   const ch = await SessionChannel.open('/run/trafficserver/ticketkeys-sessions',
//                                        (sessions: ExportedSession[]) => …, { mode: 0o600, paceMs: 40 })
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
//
// This is the agent's busiest input (every TLS session its ATS creates), and much of the agent's
// work is per event rather than per byte (bench:sessions), so it is read without stream
// machinery: libuv reads straight into one buffer of the pipe's size, which is parsed and zeroed
// in place. With paceMs, a read is followed by paceMs without reading (libuv stops polling the
// FIFO): the plugin's messages wait in the pipe meanwhile, and the next read takes them all at
// once. The sessions of one read are handed over together, so the consumer can batch without a
// timer of its own. A read that fills the buffer is followed by the next at once: the pipe is
// filling.
import type { Socket } from 'node:net';
import { SESSION_EXPORT_MAGIC, SESSION_EXPORT_MESSAGE_MAX_BYTES, SESSION_ID_MAX_BYTES, SESSION_MAX_DER_BYTES } from '../../contract/plugin-wire.ts';
import type { ExportedSession } from '../ats-bridge.ts';
import { PacePause } from '../pace-pause.ts';
import { openFifoReader } from './fifo.ts';

const MAGIC = Buffer.from(SESSION_EXPORT_MAGIC, 'latin1');
/** Linux's default pipe capacity: one read can take all the plugin wrote meanwhile. */
const READ_BUFFER_BYTES = 65_536;
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
  /** After each read, this long without reading (default 0: read whenever the plugin writes). */
  paceMs?: number;
}

export class SessionChannel {
  readonly path: string;
  readonly counts: SessionChannelCounts = { sessions: 0, invalid: 0, oversized: 0 };
  readonly #socket: Socket;
  readonly #onSessions: (sessions: ExportedSession[]) => void;
  readonly #onInvalid: ((error: string) => void) | undefined;
  #paceMs: number;
  /** Where libuv reads into; zeroed after every read. */
  readonly #buffer: Buffer;
  /** After a read: libuv does not poll the FIFO until it ends. */
  readonly #pause = new PacePause(() => {
    if (!this.#closed) this.#socket.resume();
  });
  /** The start of an unfinished message (at most SESSION_EXPORT_MESSAGE_MAX_BYTES). */
  #held: Buffer = Buffer.alloc(0);
  /** Skipping bytes that are not a message (counted once). */
  #resyncing = false;
  #closed = false;

  /**
   * Creates the FIFO when missing (mkfifo, `mode`), refuses a path that is anything else (a
   * file, a symlink) or a FIFO of another owner, sets its mode, and starts reading: the sessions
   * of the well-formed messages of each read go to onSessions together (which zeroes every `der`
   * after use).
   */
  static async open(path: string, onSessions: (sessions: ExportedSession[]) => void, options: SessionChannelOptions = {}): Promise<SessionChannel> {
    const paceMs = checkPace(options.paceMs ?? 0);
    const ref: { channel?: SessionChannel } = {};
    const buffer = Buffer.alloc(READ_BUFFER_BYTES);
    const socket = await openFifoReader(path, options.mode ?? 0o600, 'session FIFO', {
      buffer,
      // The first read comes from a later turn of the event loop, once the channel exists.
      callback: (nread: number) => ref.channel!.#onRead(nread),
    });
    ref.channel = new SessionChannel(path, socket, buffer, onSessions, options.onInvalid, paceMs);
    return ref.channel;
  }

  private constructor(
    path: string,
    socket: Socket,
    buffer: Buffer,
    onSessions: (sessions: ExportedSession[]) => void,
    onInvalid: ((error: string) => void) | undefined,
    paceMs: number,
  ) {
    this.path = path;
    this.#socket = socket;
    this.#buffer = buffer;
    this.#onSessions = onSessions;
    this.#onInvalid = onInvalid;
    this.#paceMs = paceMs;
    socket.on('error', () => undefined); // a read error ends the channel; sharing stops exporting
  }

  get closed(): boolean {
    return this.#closed;
  }

  get paceMs(): number {
    return this.#paceMs;
  }

  /** A pause already running ends at its start plus the new pace (at once when that has passed). */
  set paceMs(paceMs: number) {
    this.#paceMs = checkPace(paceMs);
    this.#pause.retime(paceMs);
  }

  #invalid(kind: 'invalid' | 'oversized', error: string): void {
    this.counts[kind]++;
    this.#onInvalid?.(error);
  }

  /** libuv read nread bytes into the buffer. False stops reading (libuv's readStop) for the pace. */
  #onRead(nread: number): boolean {
    const chunk = this.#buffer.subarray(0, nread);
    const sessions: ExportedSession[] = [];
    try {
      this.#onData(chunk, sessions);
    } finally {
      chunk.fill(0);
    }
    if (sessions.length > 0) {
      if (this.#closed) for (const s of sessions) s.der.fill(0);
      else this.#onSessions(sessions);
    }
    if (this.#paceMs === 0 || nread === this.#buffer.length || this.#closed) return true;
    this.#pause.start(this.#paceMs);
    return false;
  }

  /** Parses what was read after what was held; the sessions of whole messages go into `sessions`. */
  #onData(chunk: Buffer, sessions: ExportedSession[]): void {
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
        this.#message(all.subarray(at + PREFIX_BYTES, at + PREFIX_BYTES + length), sessions);
        at += PREFIX_BYTES + length;
      }
      const held = at === all.length ? Buffer.alloc(0) : Buffer.from(all.subarray(at));
      this.#held.fill(0);
      this.#held = held;
    } finally {
      if (all !== chunk) all.fill(0);
    }
  }

  #message(body: Buffer, sessions: ExportedSession[]): void {
    const parsed = parseSessionMessage(body);
    if (!parsed.ok) {
      this.#invalid('invalid', parsed.error);
      return;
    }
    this.counts.sessions += parsed.sessions.length;
    sessions.push(...parsed.sessions);
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
    this.#pause.stop();
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.destroy();
    });
    this.#drop();
  }
}

function checkPace(paceMs: number): number {
  if (!Number.isFinite(paceMs) || paceMs < 0) throw new RangeError('paceMs must be a non-negative number');
  return paceMs;
}
