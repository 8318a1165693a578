// The binary frames of a session stream (POST /v1/sessions/stream, agent to agent):
//
//   u32 BE  length of what follows (2..SESSION_FRAME_MAX_BYTES)
//   u8      SESSION_FRAME_VERSION
//   u8      count, 1..SESSIONS_BATCH_MAX
//   count x { u8 id length (1..32) | id | u16 BE DER length (1..256) | DER | u32 BE session time (unix s) }
//
// Bytes, not JSON: no base64 or hex string ever holds a session secret, so every buffer that held
// one can be zeroed, and a batch costs one length check and a few copies instead of a parse.
// Frames are untrusted input (they come from a peer): the reader refuses a length out of range at
// once (before buffering it), and decodeSessionFrame refuses anything that is not exactly a frame.
import { SESSION_FRAME_MAX_BYTES, SESSION_FRAME_VERSION, SESSION_ID_MAX_BYTES, SESSIONS_BATCH_MAX } from '../contract/agent-wire.ts';
import { SESSION_MAX_DER_BYTES } from '../contract/plugin-wire.ts';

export interface FramedSession {
  id: Uint8Array;
  der: Uint8Array;
  /** Session time, seconds since epoch. */
  time: number;
}

/** A frame of 1..SESSIONS_BATCH_MAX sessions, length prefix included; the caller zeroes it after use. */
export function encodeSessionFrame(sessions: readonly FramedSession[]): Buffer {
  if (sessions.length < 1 || sessions.length > SESSIONS_BATCH_MAX) throw new RangeError(`a frame holds 1..${SESSIONS_BATCH_MAX} sessions, got ${sessions.length}`);
  let size = 4 + 2;
  for (const s of sessions) {
    if (s.id.length < 1 || s.id.length > SESSION_ID_MAX_BYTES) throw new RangeError(`session id of ${s.id.length} bytes`);
    if (s.der.length < 1 || s.der.length > SESSION_MAX_DER_BYTES) throw new RangeError(`session DER of ${s.der.length} bytes`);
    if (!Number.isInteger(s.time) || s.time < 0 || s.time > 0xffffffff) throw new RangeError('session time out of range');
    size += 1 + s.id.length + 2 + s.der.length + 4;
  }
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt32BE(size - 4, 0);
  out[at++] = SESSION_FRAME_VERSION;
  out[at++] = sessions.length;
  for (const s of sessions) {
    out[at++] = s.id.length;
    out.set(s.id, at);
    at += s.id.length;
    at = out.writeUInt16BE(s.der.length, at);
    out.set(s.der, at);
    at += s.der.length;
    at = out.writeUInt32BE(s.time, at);
  }
  return out;
}

/**
 * The sessions of one frame body (without its length prefix), as views into the body (no copies:
 * the caller zeroes the body once the sessions are used, which zeroes them too); undefined when
 * the body is not exactly a frame (version, count, lengths, trailing bytes).
 */
export function decodeSessionFrame(body: Buffer): Array<{ id: Buffer; der: Buffer; time: number }> | undefined {
  if (body.length < 2 || body[0] !== SESSION_FRAME_VERSION) return undefined;
  const count = body[1]!;
  if (count < 1 || count > SESSIONS_BATCH_MAX) return undefined;
  const out: Array<{ id: Buffer; der: Buffer; time: number }> = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    if (at + 1 > body.length) return undefined;
    const idLen = body[at++]!;
    if (idLen < 1 || idLen > SESSION_ID_MAX_BYTES || at + idLen + 2 > body.length) return undefined;
    const id = body.subarray(at, at + idLen);
    at += idLen;
    const derLen = body.readUInt16BE(at);
    at += 2;
    if (derLen < 1 || derLen > SESSION_MAX_DER_BYTES || at + derLen + 4 > body.length) return undefined;
    const der = body.subarray(at, at + derLen);
    at += derLen;
    const time = body.readUInt32BE(at);
    at += 4;
    out.push({ id, der, time });
  }
  return at === body.length ? out : undefined;
}

/** A frame length that is not 2..SESSION_FRAME_MAX_BYTES: the stream is not a session stream. */
export class SessionFrameError extends Error {
  override name = 'SessionFrameError';
}

/**
 * Cuts a byte stream into frame bodies. push() takes the next chunk and returns the bodies it
 * completed (the caller zeroes them); the chunk itself is zeroed once copied. At most one frame
 * (≤ SESSION_FRAME_MAX_BYTES + 4) is ever held.
 */
export class SessionFrameReader {
  #held: Buffer = Buffer.alloc(0);

  /** Bytes of an unfinished frame. */
  get pending(): number {
    return this.#held.length;
  }

  push(chunk: Buffer): Buffer[] {
    const all = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    if (all !== chunk) {
      this.#held.fill(0);
      chunk.fill(0);
    }
    const frames: Buffer[] = [];
    let at = 0;
    try {
      while (all.length - at >= 4) {
        const len = all.readUInt32BE(at);
        if (len < 2 || len > SESSION_FRAME_MAX_BYTES) throw new SessionFrameError(`a frame of ${len} bytes (at most ${SESSION_FRAME_MAX_BYTES})`);
        if (all.length - at - 4 < len) break;
        frames.push(Buffer.from(all.subarray(at + 4, at + 4 + len)));
        at += 4 + len;
      }
      this.#held = at === all.length ? Buffer.alloc(0) : Buffer.from(all.subarray(at));
      return frames;
    } catch (err) {
      for (const f of frames) f.fill(0);
      this.#held = Buffer.alloc(0);
      throw err;
    } finally {
      all.fill(0);
    }
  }

  /** Zeroes what is held (the stream ended or failed). */
  clear(): void {
    this.#held.fill(0);
    this.#held = Buffer.alloc(0);
  }
}
