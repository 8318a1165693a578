// What the agent sends to the ticketkeys_bridge plugin and the stats it reads back. Tags, the
// frame layout, limits and stat names come from src/contract/plugin-wire.ts, which the plugin
// (src/ats-plugin/ticketkeys_bridge.c) reads as the generated ticketkeys_contract.h.
import {
  CACHE_FLUSH,
  CACHE_REMOVE_PREFIX,
  FRAME_FLAG_REASSERT,
  FRAME_FLAG_REVOKE,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  KEY_BYTES,
  MAX_KEYS,
  SESSION_ID_MAX_BYTES,
  SESSION_IMPORT_HEADER_BYTES,
  SESSION_IMPORT_MAGIC,
  SESSION_IMPORT_MAX_SESSIONS,
  SESSION_IMPORT_MAX_TTL_SECONDS,
  SESSION_MAX_DER_BYTES,
  SESSIONS_VERSION,
} from '../../contract/plugin-wire.ts';
import { SESSION_ID_HEX } from '../../contract/agent-wire.ts';

export {
  CACHE_TAG,
  FRAME_FLAG_REASSERT,
  FRAME_FLAG_REVOKE,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  MAX_KEYS,
  PLUGIN_STATS,
  RING_TAG,
  SESSIONS_TAG,
} from '../../contract/plugin-wire.ts';

/** traffic_manager's record: when traffic_server was (re)started, seconds since the epoch. */
export const PROXY_START_TIME = 'proxy.node.restarts.proxy.start_time';

export interface RingFrameInput {
  generation: number | bigint;
  keys: readonly Uint8Array[];
  revoke?: boolean;
  reassert?: boolean;
}

/**
 * "TKR1" | version | flags | 0 0 | generation (u64 BE) | keys.
 * Validates like the plugin does (it re-validates: this is the early, explainable error).
 * The returned buffer holds key bytes: the caller zeroes it after use.
 */
export function encodeRingFrame({ generation, keys, revoke = false, reassert = false }: RingFrameInput): Buffer {
  const gen = BigInt(generation);
  if (gen < 1n || gen > 0x7fff_ffff_ffff_ffffn) throw new RangeError('generation must be in 1..2^63-1');
  if (keys.length < 1 || keys.length > MAX_KEYS) throw new RangeError(`a ring holds 1..${MAX_KEYS} keys, got ${keys.length}`);
  keys.forEach((k, i) => {
    if (k.length !== KEY_BYTES) throw new RangeError(`key ${i} is ${k.length} bytes, not ${KEY_BYTES}`);
  });
  const flags = (revoke ? FRAME_FLAG_REVOKE : 0) | (reassert ? FRAME_FLAG_REASSERT : 0);
  return encodeRawFrame({ generation: gen, ring: keys, flags });
}

/**
 * Unvalidated framing, for tests that must send what a buggy or hostile sender would
 * (wrong version, odd lengths, ...). Production code uses encodeRingFrame.
 */
export function encodeRawFrame(parts: {
  generation: bigint;
  ring: readonly Uint8Array[];
  flags?: number;
  version?: number;
  magic?: string;
  reserved?: number;
}): Buffer {
  const ringBytes = parts.ring.reduce((n, k) => n + k.length, 0);
  const out = Buffer.alloc(FRAME_HEADER_BYTES + ringBytes);
  out.write(parts.magic ?? FRAME_MAGIC, 0, 4, 'latin1');
  out[4] = parts.version ?? FRAME_VERSION;
  out[5] = parts.flags ?? 0;
  out.writeUInt16BE(parts.reserved ?? 0, 6);
  out.writeBigUInt64BE(BigInt.asUintN(64, parts.generation), 8);
  let at = FRAME_HEADER_BYTES;
  for (const k of parts.ring) {
    out.set(k, at);
    at += k.length;
  }
  return out;
}

/** Payload of a "remove one session" message; ids are 1..32 bytes in hex. */
export function encodeRemoveSession(idHex: string): Buffer {
  if (!SESSION_ID_HEX.test(idHex)) throw new RangeError(`session id must be 1..${SESSION_ID_MAX_BYTES} bytes of hex`);
  return Buffer.from(`${CACHE_REMOVE_PREFIX}${idHex.toLowerCase()}`, 'latin1');
}

export function encodeFlush(): Buffer {
  return Buffer.from(CACHE_FLUSH, 'latin1');
}

export interface SessionImportInput {
  ttlSeconds: number;
  notBefore: number;
  sessions: ReadonlyArray<{ id: Uint8Array; der: Uint8Array }>;
}

/** The two lower-case hex digits of every byte value, at 2 * value (one lookup per byte, no string). */
const HEX_PAIRS = Buffer.from(Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0')).join(''), 'latin1');

/** Writes `bytes` as lower-case hex at `at` (no intermediate string: the DER is secret); returns the new offset. */
function writeHex(out: Buffer, at: number, bytes: Uint8Array): number {
  // An indexed loop and a table: the agent runs without an optimising compiler (runtime-flags.ts).
  for (let i = 0; i < bytes.length; i++) {
    const p = bytes[i]! * 2;
    out[at++] = HEX_PAIRS[p]!;
    out[at++] = HEX_PAIRS[p + 1]!;
  }
  return at;
}

/** Throws a RangeError for what the plugin would refuse (it re-validates everything, the sessions' contents too). */
function checkSessionImport({ ttlSeconds, notBefore, sessions }: SessionImportInput): void {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > SESSION_IMPORT_MAX_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be an integer in 1..${SESSION_IMPORT_MAX_TTL_SECONDS}`);
  }
  if (!Number.isSafeInteger(notBefore) || notBefore < 0) throw new RangeError('notBefore must be a non-negative integer');
  if (sessions.length < 1 || sessions.length > SESSION_IMPORT_MAX_SESSIONS) {
    throw new RangeError(`a sessions message holds 1..${SESSION_IMPORT_MAX_SESSIONS} sessions, got ${sessions.length}`);
  }
  sessions.forEach(({ id, der }, i) => {
    if (id.length < 1 || id.length > SESSION_ID_MAX_BYTES) throw new RangeError(`session ${i}: id is ${id.length} bytes, not 1..${SESSION_ID_MAX_BYTES}`);
    if (der.length < 1 || der.length > SESSION_MAX_DER_BYTES) {
      throw new RangeError(`session ${i}: DER is ${der.length} bytes, not 1..${SESSION_MAX_DER_BYTES}`);
    }
  });
}

/**
 * Payload of a SESSIONS_TAG lifecycle message: `v1 ttl=<s> notbefore=<unix s>\n` then one
 * `s id=<hex> der=<hex>\n` line per session. The returned buffer holds session secrets in hex:
 * the caller zeroes it after use.
 */
export function encodeSessionImport(input: SessionImportInput): Buffer {
  checkSessionImport(input);
  const { ttlSeconds, notBefore, sessions } = input;
  const header = Buffer.from(`${SESSIONS_VERSION} ttl=${ttlSeconds} notbefore=${notBefore}\n`, 'latin1');
  const ID = Buffer.from('s id=', 'latin1');
  const DER = Buffer.from(' der=', 'latin1');
  const size = sessions.reduce((n, s) => n + ID.length + 2 * s.id.length + DER.length + 2 * s.der.length + 1, header.length);
  const out = Buffer.alloc(size);
  let at = header.copy(out, 0);
  for (const s of sessions) {
    at += ID.copy(out, at);
    at = writeHex(out, at, s.id);
    at += DER.copy(out, at);
    at = writeHex(out, at, s.der);
    out[at++] = 0x0a;
  }
  return out;
}

/**
 * One message of the import FIFO's binary stream (plugin-wire.ts): magic, length, ttl,
 * notbefore, then each session's id and DER with their lengths, copied as they are. The returned
 * buffer holds session secrets: the caller zeroes it after use.
 */
export function encodeSessionImportMessage(input: SessionImportInput): Buffer {
  checkSessionImport(input);
  const { ttlSeconds, notBefore, sessions } = input;
  if (notBefore > 0xffffffff) throw new RangeError('notBefore must fit in 32 bits');
  let size = SESSION_IMPORT_HEADER_BYTES;
  for (const s of sessions) size += 1 + s.id.length + 2 + s.der.length;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(SESSION_IMPORT_MAGIC, 0, 'latin1');
  at = out.writeUInt32BE(size - 8, at);
  at = out.writeUInt32BE(ttlSeconds, at);
  at = out.writeUInt32BE(notBefore, at);
  for (const s of sessions) {
    out[at++] = s.id.length;
    out.set(s.id, at);
    at += s.id.length;
    at = out.writeUInt16BE(s.der.length, at);
    out.set(s.der, at);
    at += s.der.length;
  }
  return out;
}
