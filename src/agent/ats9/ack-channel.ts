// The plugin's confirmation channel: a FIFO the agent creates and reads, the ticketkeys_bridge
// plugin writes one line per ring install / rejection / cache flush (plugin.config:
// `ticketkeys_bridge.so --ack-fifo=<path>`, format in the plugin's header comment). It removes the
// ~300 ms wait for ATS's stats sync from every push; the stats stay the truth the agent re-checks.
//
//   const ch = await AckChannel.open('/run/trafficserver/ticketkeys-acks', { mode: 0o600 })
//   ch.on('ack', (ack: Ack) => …)        every well-formed record ('invalid', (error) => …: dropped ones)
//   ch.counts                              records by outcome (invalid, oversized, …)
//   await ch.close()
//
// Trust: anything in the pod that can write the FIFO (same UID, or the group with mode 0620)
// can also message the plugin through mgmtapi.sock. Records are untrusted input all the same:
// bounded lines, strict parsing, unknown or malformed records counted and dropped. A forged
// record can at worst make the agent answer a push early; the agent's stats read-back (the
// re-assert loop) then finds the truth and re-installs.
//
// The FIFO is opened O_RDWR|O_NONBLOCK: opening never waits for a writer, and the agent's own
// write end keeps the pipe from reporting EOF between the plugin's per-record opens. It is read
// through libuv's event loop (net.Socket on the fd), never through the thread pool.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { FINGERPRINT_RE, MAX_RING_KEYS } from '../../contract/keys.ts';
import { ACK_FLUSH_FIELDS, ACK_RECORD_MAX_BYTES, ACK_RECORD_TAG, ACK_REJECTED_FIELDS, ACK_RING_FIELDS } from '../../contract/plugin-wire.ts';
import { openFifoReader } from './fifo.ts';

/** Longest record accepted (the plugin writes < ACK_RECORD_MAX_BYTES, 256): longer lines are dropped whole. */
export const ACK_LINE_MAX = 2 * ACK_RECORD_MAX_BYTES;

export type Ack =
  | {
      kind: 'ring';
      seq: number;
      result: 'installed' | 'rejected';
      /** Reject token from the plugin (stale_generation, bad_length, …); undefined when installed. */
      reason?: string;
      generation: number;
      keyCount: number;
      /** 16 lower-case hex digits, as core/fingerprint.ts ringFingerprint. */
      ringFingerprint: string;
      /** Generation the plugin holds after the event. */
      installedGeneration: number;
      /** Plugin load time (epoch seconds), as the plugin.ticketkeys.loaded_at stat. */
      loadedAt: number;
    }
  | { kind: 'flush'; seq: number; flushes: number; loadedAt: number };

export type AckParseResult = { ok: true; ack: Ack } | { ok: false; error: string };

const UINT = /^(0|[1-9][0-9]{0,18})$/;
const TOKEN = /^[a-z_]{1,32}$/;

function uint(v: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined || !UINT.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n <= max ? n : undefined;
}

/**
 * Parses one record (without its newline). Strict: the `tka1` tag, then exactly the fields of
 * the record's kind in the plugin's order, single spaces, printable ASCII, bounded numbers.
 */
export function parseAck(line: string): AckParseResult {
  const fail = (error: string): AckParseResult => ({ ok: false, error });
  if (line.length > ACK_LINE_MAX) return fail('line too long');
  if (!/^[\x21-\x7e ]+$/.test(line)) return fail('not printable ASCII');
  const parts = line.split(' ');
  if (parts[0] !== ACK_RECORD_TAG) return fail('unknown record tag');
  const fields = parts.slice(1).map((p) => {
    const eq = p.indexOf('=');
    return eq <= 0 ? null : ([p.slice(0, eq), p.slice(eq + 1)] as const);
  });
  if (fields.some((f) => f === null)) return fail('field is not key=value');
  const pairs = fields as Array<readonly [string, string]>;
  const v = Object.fromEntries(pairs) as Record<string, string>;
  const names = pairs.map(([k]) => k).join(',');
  const seq = uint(v.seq);
  const loadedAt = uint(v.loaded_at, 2 ** 40);
  if (v.kind === 'flush') {
    if (names !== ACK_FLUSH_FIELDS.join(',')) return fail('unexpected fields for kind=flush');
    const flushes = uint(v.flushes);
    if (seq === undefined || flushes === undefined || loadedAt === undefined) return fail('bad number');
    return { ok: true, ack: { kind: 'flush', seq, flushes, loadedAt } };
  }
  if (v.kind !== 'ring') return fail('unknown kind');
  const result = v.result;
  if (result !== 'installed' && result !== 'rejected') return fail('unknown result');
  if (names !== (result === 'installed' ? ACK_RING_FIELDS : ACK_REJECTED_FIELDS).join(',')) return fail(`unexpected fields for result=${result}`);
  if (result === 'rejected' && !TOKEN.test(v.reason ?? '')) return fail('bad reason');
  const generation = uint(v.gen);
  const keyCount = uint(v.keys, MAX_RING_KEYS);
  const installedGeneration = uint(v.installed);
  if (seq === undefined || generation === undefined || keyCount === undefined || installedGeneration === undefined || loadedAt === undefined) {
    return fail('bad number');
  }
  if (!FINGERPRINT_RE.test(v.fp ?? '') || BigInt(`0x${v.fp}`) > 0x7fff_ffff_ffff_ffffn) return fail('bad fingerprint');
  return {
    ok: true,
    ack: {
      kind: 'ring',
      seq,
      result,
      ...(result === 'rejected' ? { reason: v.reason! } : {}),
      generation,
      keyCount,
      ringFingerprint: v.fp!,
      installedGeneration,
      loadedAt,
    },
  };
}

/** Records read, by outcome. `matched`/`unmatched`/`late` are counted by the bridge. */
export interface AckCounts {
  /** A ring record that confirmed (or refused) an install the agent was waiting for. */
  matched: number;
  /** A well-formed record for an install that arrived after the agent stopped waiting (stats confirmed it). */
  late: number;
  /** A well-formed ring record for no install this agent sent (another writer, or forged). */
  unmatched: number;
  /** Cache flush records. */
  flush: number;
  /** Malformed records (garbage, unknown fields, bad numbers). */
  invalid: number;
  /** Lines longer than ACK_LINE_MAX, dropped whole. */
  oversized: number;
}

export type AckOutcome = keyof AckCounts;

export interface AckChannelOptions {
  /** FIFO mode when the agent creates it (default 0o600; 0o620 when ATS runs as another user of the agent's group). */
  mode?: number;
}

export class AckChannel extends EventEmitter {
  readonly path: string;
  readonly counts: AckCounts = { matched: 0, late: 0, unmatched: 0, flush: 0, invalid: 0, oversized: 0 };
  readonly #socket: Socket;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  /** Inside an oversized line: drop bytes up to the next newline. */
  #skipping = false;
  #closed = false;

  /**
   * Creates the FIFO when missing (mkfifo, `mode`), refuses a path that is anything else (a
   * file, a symlink) or a FIFO of another owner, sets its mode, and starts reading.
   */
  static async open(path: string, options: AckChannelOptions = {}): Promise<AckChannel> {
    const socket = await openFifoReader(path, options.mode ?? 0o600, 'ack FIFO');
    return new AckChannel(path, socket);
  }

  private constructor(path: string, socket: Socket) {
    super();
    this.path = path;
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined); // a read error ends the channel; the agent falls back to stats
  }

  /** Counts an outcome decided by the consumer (matched, late, unmatched). */
  count(outcome: AckOutcome): void {
    this.counts[outcome]++;
  }

  #onData(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const nl = chunk.indexOf(0x0a, at);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(at, end);
      if (!this.#skipping) {
        if (this.#bufferedBytes + piece.length > ACK_LINE_MAX) {
          this.#skipping = true;
          this.#buffered = [];
          this.#bufferedBytes = 0;
          this.counts.oversized++;
          this.emit('invalid', 'line too long');
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
  }

  #line(): void {
    const line = Buffer.concat(this.#buffered).toString('latin1');
    this.#buffered = [];
    this.#bufferedBytes = 0;
    if (line === '') return;
    const parsed = parseAck(line);
    if (!parsed.ok) {
      this.counts.invalid++;
      this.emit('invalid', parsed.error);
      return;
    }
    if (parsed.ack.kind === 'flush') this.counts.flush++;
    this.emit('ack', parsed.ack);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.destroy();
    });
  }
}
