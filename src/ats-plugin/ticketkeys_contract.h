/*
 * GENERATED from src/contract/plugin-wire.ts by src/ats-plugin/contract-header.ts: do not edit.
 * Regenerate with `node src/ats-plugin/contract-header.ts`.
 *
 * What the agent and ticketkeys_bridge.c share: message tags, the ring frame layout, stat
 * names, reject reasons, the ack records and the session-sharing formats.
 */
#ifndef TICKETKEYS_CONTRACT_H
#define TICKETKEYS_CONTRACT_H

/* Message tags */
#define RING_TAG "ticketkeys.ring"
#define CACHE_TAG "ticketkeys.cache"

/* Ring frame: magic | version | flags | 0 0 | generation (u64 BE) | N x KEY_LEN key bytes */
#define FRAME_MAGIC "TKR1"
#define FRAME_MAGIC_LEN 4
#define FRAME_VERSION 1
#define FRAME_FLAG_REVOKE 0x01
#define FRAME_FLAG_REASSERT 0x02
#define FRAME_HEADER_LEN 16
#define KEY_LEN 48
#define KEY_NAME_LEN 16
#define MAX_KEYS 16

/* Ring fingerprint: SHA-256 over this domain, its NUL, then the ring bytes */
#define RING_FINGERPRINT_DOMAIN "ticketkeys.dev/ring/v1"

/* Cache messages: "flush" or "remove <hex session id>" */
#define CACHE_FLUSH "flush"
#define CACHE_REMOVE_PREFIX "remove "
#define SID_MAX_LEN 32

/* Stat names */
#define STAT_NAME_GENERATION "plugin.ticketkeys.generation"
#define STAT_NAME_KEY_COUNT "plugin.ticketkeys.key_count"
#define STAT_NAME_RING_FINGERPRINT "plugin.ticketkeys.ring_fingerprint"
#define STAT_NAME_INSTALLS "plugin.ticketkeys.installs"
#define STAT_NAME_REJECTED "plugin.ticketkeys.rejected"
#define STAT_NAME_REAPPLIES "plugin.ticketkeys.reapplies"
#define STAT_NAME_CACHE_TRACKED "plugin.ticketkeys.cache.tracked"
#define STAT_NAME_CACHE_REMOVED "plugin.ticketkeys.cache.removed"
#define STAT_NAME_CACHE_FLUSHES "plugin.ticketkeys.cache.flushes"
#define STAT_NAME_CACHE_OVERFLOWS "plugin.ticketkeys.cache.overflows"
#define STAT_NAME_CACHE_HITS "plugin.ticketkeys.cache.hits"
#define STAT_NAME_LOADED_AT "plugin.ticketkeys.loaded_at"
#define STAT_NAME_MLOCK_FAILED "plugin.ticketkeys.mlock_failed"
#define STAT_NAME_ACKS_SENT "plugin.ticketkeys.acks_sent"
#define STAT_NAME_ACKS_DROPPED "plugin.ticketkeys.acks_dropped"
#define STAT_NAME_SESSIONS_EXPORTED "plugin.ticketkeys.sessions.exported"
#define STAT_NAME_SESSIONS_EXPORT_UNCACHED "plugin.ticketkeys.sessions.export_uncached"
#define STAT_NAME_SESSIONS_EXPORT_DROPPED "plugin.ticketkeys.sessions.export_dropped"
#define STAT_NAME_SESSIONS_EXPORT_NO_READER "plugin.ticketkeys.sessions.export_no_reader"
#define STAT_NAME_SESSIONS_IMPORTED "plugin.ticketkeys.sessions.imported"
#define STAT_NAME_SESSIONS_IMPORT_REJECTED "plugin.ticketkeys.sessions.import_rejected"

/* Reject reasons (logged) and their ack tokens */
#define REJECT_SHORT_FRAME "frame shorter than its header"
#define REJECT_BAD_MAGIC "bad magic"
#define REJECT_BAD_VERSION "unsupported frame version"
#define REJECT_UNKNOWN_FLAGS "unknown flags"
#define REJECT_RESERVED_NOT_ZERO "reserved bytes not zero"
#define REJECT_EMPTY_RING "empty ring"
#define REJECT_BAD_LENGTH "ring length not a multiple of 48"
#define REJECT_TOO_MANY_KEYS "more than 16 keys"
#define REJECT_GENERATION_ZERO "generation zero"
#define REJECT_GENERATION_RANGE "generation out of range"
#define REJECT_STALE_GENERATION "stale generation"
#define REJECT_DUPLICATE_KEY_NAME "duplicate key name"
#define REJECT_UPDATE_FAILED "TSSslTicketKeyUpdate failed"
#define REJECT_TOKEN_OTHER "other"
#define REJECT_TOKEN_TABLE \
  {REJECT_SHORT_FRAME, "short_frame"}, \
  {REJECT_BAD_MAGIC, "bad_magic"}, \
  {REJECT_BAD_VERSION, "bad_version"}, \
  {REJECT_UNKNOWN_FLAGS, "unknown_flags"}, \
  {REJECT_RESERVED_NOT_ZERO, "reserved_not_zero"}, \
  {REJECT_EMPTY_RING, "empty_ring"}, \
  {REJECT_BAD_LENGTH, "bad_length"}, \
  {REJECT_TOO_MANY_KEYS, "too_many_keys"}, \
  {REJECT_GENERATION_ZERO, "generation_zero"}, \
  {REJECT_GENERATION_RANGE, "generation_range"}, \
  {REJECT_STALE_GENERATION, "stale_generation"}, \
  {REJECT_DUPLICATE_KEY_NAME, "duplicate_key_name"}, \
  {REJECT_UPDATE_FAILED, "update_failed"}

/* Ack channel */
#define ACK_OPT "--ack-fifo="
#define ACK_RECORD_TAG "tka1"
#define ACK_LINE_MAX 256

/* Session sharing: export records (plugin -> agent FIFO) and import messages (agent -> plugin) */
#define SESSION_OPT "--session-fifo="
#define SESSION_EXPORT_MAGIC "TKX1"
#define SESSION_EXPORT_MSG_MAX 4096
#define SESSION_DER_MAX 256
#define SESSION_IMPORT_OPT "--session-import-fifo="
#define SESSION_IMPORT_MAGIC "TKI1"
#define SESSION_IMPORT_HEADER_LEN 16
#define SESSION_IMPORT_MSG_MAX 18640
#define SESSIONS_TAG "ticketkeys.sessions"
#define SESSIONS_VERSION "v1"
#define SESSION_IMPORT_MAX 64
#define SESSION_TTL_MAX 86400
#define SESSION_FUTURE_SKEW 60

#endif /* TICKETKEYS_CONTRACT_H */
