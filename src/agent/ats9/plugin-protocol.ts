// What the agent sends to the ticketkeys_bridge plugin and the stats it reads back.
// The plugin (src/ats-plugin/ticketkeys_bridge.c) is the other half: keep the two in step.
import { KEY_BYTES } from '../../core/fingerprint.ts';

export const RING_TAG = 'ticketkeys.ring';
export const CACHE_TAG = 'ticketkeys.cache';

export const FRAME_MAGIC = 'TKR1';
export const FRAME_VERSION = 1;
/**
 * The ring replaces every key after an incident (the plugin logs it at warning; the operator
 * flushes session caches alongside). Grants nothing else: the generation must still be newer.
 */
export const FRAME_FLAG_REVOKE = 0x01;
/**
 * The agent puts its accepted ring back over another ring ATS holds at the same generation:
 * the plugin then accepts that equal generation, never a lower one.
 */
export const FRAME_FLAG_REASSERT = 0x02;
export const FRAME_HEADER_BYTES = 16;
export const MAX_KEYS = 16;

export const PLUGIN_STATS = {
  generation: 'plugin.ticketkeys.generation',
  keyCount: 'plugin.ticketkeys.key_count',
  ringFingerprint: 'plugin.ticketkeys.ring_fingerprint',
  installs: 'plugin.ticketkeys.installs',
  rejected: 'plugin.ticketkeys.rejected',
  reapplies: 'plugin.ticketkeys.reapplies',
  cacheTracked: 'plugin.ticketkeys.cache.tracked',
  cacheRemoved: 'plugin.ticketkeys.cache.removed',
  cacheFlushes: 'plugin.ticketkeys.cache.flushes',
  cacheOverflows: 'plugin.ticketkeys.cache.overflows',
  /** Session-id lookups that found the id in ATS's cache (absent from older plugins). */
  cacheHits: 'plugin.ticketkeys.cache.hits',
  /** Epoch seconds when the plugin was loaded: tells fresh stats from a previous process's. */
  loadedAt: 'plugin.ticketkeys.loaded_at',
  /** 1 when the plugin could not mlock its key store (keys may reach swap). */
  mlockFailed: 'plugin.ticketkeys.mlock_failed',
  /** Ack records written to the ack FIFO / dropped (no reader, pipe full, not a FIFO). */
  acksSent: 'plugin.ticketkeys.acks_sent',
  acksDropped: 'plugin.ticketkeys.acks_dropped',
} as const;

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

const HEX_ID = /^(?:[0-9a-f]{2}){1,32}$/i;

/** Payload of a "remove one session" message; ids are 1..32 bytes in hex. */
export function encodeRemoveSession(idHex: string): Buffer {
  if (!HEX_ID.test(idHex)) throw new RangeError('session id must be 1..32 bytes of hex');
  return Buffer.from(`remove ${idHex.toLowerCase()}`, 'latin1');
}

export function encodeFlush(): Buffer {
  return Buffer.from('flush', 'latin1');
}
