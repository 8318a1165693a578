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
  /** Session sharing (absent from older plugins): session records written to the session FIFO. */
  sessionsExported: 'plugin.ticketkeys.sessions.exported',
  /** New sessions ATS did not cache (TSSslSessionGetBuffer found nothing, or over SESSION_MAX_DER_BYTES). */
  sessionsExportUncached: 'plugin.ticketkeys.sessions.export_uncached',
  /** New sessions dropped: export queue full or contended, pipe full, write failed. */
  sessionsExportDropped: 'plugin.ticketkeys.sessions.export_dropped',
  /** New sessions not exported because nobody read the session FIFO (ENXIO, path missing, not a FIFO). */
  sessionsExportNoReader: 'plugin.ticketkeys.sessions.export_no_reader',
  /** Received sessions inserted into ATS's cache (TSSslSessionInsert). */
  sessionsImported: 'plugin.ticketkeys.sessions.imported',
  /** Received sessions refused (malformed, undecodable, id mismatch, protocol, before flush, future, expired). */
  sessionsImportRejected: 'plugin.ticketkeys.sessions.import_rejected',
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

/**
 * Session sharing, plugin → agent: plugin.config argument `--session-fifo=/absolute/path` names a
 * FIFO the agent creates and reads. The plugin writes the new TLS 1.2 sessions of a tick as binary
 * messages of at most SESSION_EXPORT_MESSAGE_MAX_BYTES (PIPE_BUF: each write is atomic):
 *   SESSION_EXPORT_MAGIC (4 bytes) | u32 BE length of the rest
 *   | 1.. x { u8 id length (1..32) | id | u16 BE DER length (1..256) | DER
 *             | u32 BE session time (unix s) | u32 BE session timeout (s) }
 * (the DER holds the master secret: as secret as a key). A reader that meets anything else skips
 * to the next magic.
 */
export const SESSION_FIFO_OPTION = '--session-fifo';
export const SESSION_EXPORT_MAGIC = 'TKX1';
export const SESSION_EXPORT_MESSAGE_MAX_BYTES = 4096;
/** ATS never caches a session whose DER is longer (SSL_MAX_SESSION_SIZE in ATS 9.2). */
export const SESSION_MAX_DER_BYTES = 256;

/**
 * Session sharing, agent → plugin: lifecycle message tag SESSIONS_TAG, ASCII:
 *   `v1 ttl=<seconds> notbefore=<unix s>\n` then 1..SESSION_IMPORT_MAX_SESSIONS lines
 *   `s id=<hex> der=<hex>\n`.
 */
export const SESSIONS_TAG = 'ticketkeys.sessions';
export const SESSIONS_VERSION = 'v1';
export const SESSION_IMPORT_MAX_SESSIONS = 64;
/**
 * Session sharing, agent → plugin without traffic_manager: plugin.config argument
 * `--session-import-fifo=/absolute/path` names a FIFO the agent creates (writable by the agent
 * alone) and writes; the plugin reads it every few ms on a task thread. The stream is a sequence
 * of binary messages (no hex: the agent copies session bytes as they came, the plugin reads them
 * as they are):
 *   SESSION_IMPORT_MAGIC (4 bytes) | u32 BE length of the rest (8..SESSION_IMPORT_MESSAGE_MAX_BYTES - 8)
 *   | u32 BE ttl (1..SESSION_IMPORT_MAX_TTL_SECONDS) | u32 BE notbefore (unix s)
 *   | 1..SESSION_IMPORT_MAX_SESSIONS x { u8 id length (1..32) | id | u16 BE DER length (1..256) | DER }
 * A reader that meets anything else skips to the next magic.
 */
export const SESSION_IMPORT_FIFO_OPTION = '--session-import-fifo';
export const SESSION_IMPORT_MAGIC = 'TKI1';
/** Magic, length, ttl and notbefore. */
export const SESSION_IMPORT_HEADER_BYTES = 16;
export const SESSION_IMPORT_MESSAGE_MAX_BYTES = SESSION_IMPORT_HEADER_BYTES + SESSION_IMPORT_MAX_SESSIONS * (1 + SESSION_ID_MAX_BYTES + 2 + SESSION_MAX_DER_BYTES);
/** Upper bound of the message's ttl (the agent's ttlSeconds bound). */
export const SESSION_IMPORT_MAX_TTL_SECONDS = 86_400;
/** A received session whose time is more than this ahead of the plugin's clock is refused. */
export const SESSION_FUTURE_SKEW_SECONDS = 60;
