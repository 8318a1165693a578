// What the agent and the ticketkeys_bridge plugin (src/ats-plugin/ticketkeys_bridge.c) share:
// message tags, the ring frame layout, stat names, reject reasons and the ack records. The C
// side reads these from src/ats-plugin/ticketkeys_contract.h, generated from this file
// (`node src/ats-plugin/contract-header.ts`; a unit test fails when the committed header is stale).
import { KEY_BYTES, KEY_NAME_BYTES, MAX_RING_KEYS, RING_FINGERPRINT_DOMAIN } from './keys.ts';
import { SESSION_ID_MAX_BYTES } from './agent-wire.ts';

export { KEY_BYTES, KEY_NAME_BYTES, MAX_RING_KEYS, RING_FINGERPRINT_DOMAIN, SESSION_ID_MAX_BYTES };

/** Message tags (TS_LIFECYCLE_MSG_HOOK) the plugin listens to. */
export const RING_TAG = 'ticketkeys.ring';
export const CACHE_TAG = 'ticketkeys.cache';

/** Ring frame: "TKR1" | version | flags | 0 0 | generation (u64 BE) | N x KEY_BYTES keys. */
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
/** Keys in one frame: the ring bound. */
export const MAX_KEYS = MAX_RING_KEYS;

/** Cache messages (tag CACHE_TAG), ASCII: "flush" or "remove <hex session id>". */
export const CACHE_FLUSH = 'flush';
export const CACHE_REMOVE_PREFIX = 'remove ';

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

/**
 * Why the plugin refused a ring frame: the ack record's `reason` token, and the message the
 * plugin logs in diags.log.
 */
export const PLUGIN_REJECT_REASONS = {
  short_frame: 'frame shorter than its header',
  bad_magic: 'bad magic',
  bad_version: 'unsupported frame version',
  unknown_flags: 'unknown flags',
  reserved_not_zero: 'reserved bytes not zero',
  empty_ring: 'empty ring',
  bad_length: `ring length not a multiple of ${KEY_BYTES}`,
  too_many_keys: `more than ${MAX_RING_KEYS} keys`,
  generation_zero: 'generation zero',
  generation_range: 'generation out of range',
  stale_generation: 'stale generation',
  duplicate_key_name: 'duplicate key name',
  update_failed: 'TSSslTicketKeyUpdate failed',
} as const;
export type PluginRejectToken = keyof typeof PLUGIN_REJECT_REASONS;
/** The token of a reason the plugin has no token for. */
export const PLUGIN_REJECT_OTHER = 'other';

/** plugin.config argument that names the ack FIFO: `--ack-fifo=/absolute/path`. */
export const ACK_FIFO_OPTION = '--ack-fifo=';
/** First word of every ack record (the record format's version). */
export const ACK_RECORD_TAG = 'tka1';
/** The plugin writes records shorter than this (newline included): < PIPE_BUF, so one write is atomic. */
export const ACK_RECORD_MAX_BYTES = 256;
/** Fields of the ack records, in the order the plugin writes them. */
export const ACK_RING_FIELDS = ['seq', 'kind', 'result', 'gen', 'keys', 'fp', 'installed', 'loaded_at'] as const;
export const ACK_REJECTED_FIELDS = ['seq', 'kind', 'result', 'reason', 'gen', 'keys', 'fp', 'installed', 'loaded_at'] as const;
export const ACK_FLUSH_FIELDS = ['seq', 'kind', 'flushes', 'loaded_at'] as const;
