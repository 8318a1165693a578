// The agent's HTTPS API as both ends see it: the agent serves it (src/agent/api-server.ts), the
// operator calls it (src/agent/client.ts). Limits and enumerations only: the TypeBox schemas
// that validate bodies (src/agent/protocol.ts) are built from these.
export { FINGERPRINT_PATTERN, KEY_BYTES, KEY_STATES, MAX_RING_KEYS, type KeyState } from './keys.ts';

/** A full 16-key ring is about 2.5 KiB of JSON; anything much larger is not a ring. */
export const BODY_LIMIT_BYTES = 8 * 1024;

/**
 * RingKey.material: base64 of exactly KEY_BYTES bytes (64 chars, no padding). The exact length
 * is checked after the schema so the error can say so; the schema only bounds the string.
 */
export const MATERIAL_MAX_LENGTH = 128;
export const MATERIAL_PATTERN = '^[A-Za-z0-9+/]*={0,2}$';

/** A TLS session id is 1..32 bytes; the API and the plugin take it as hex. */
export const SESSION_ID_MAX_BYTES = 32;
export const SESSION_ID_HEX = new RegExp(`^(?:[0-9a-fA-F]{2}){1,${SESSION_ID_MAX_BYTES}}$`);

/**
 * SessionsBatch `der`: base64 of 1..SESSION_MAX_DER_BYTES (plugin-wire.ts, 256) bytes of a
 * session's DER: 4 * ceil(256 / 3) = 344 chars. The decoded length is checked after the schema.
 */
export const SESSION_DER_BASE64_MAX_LENGTH = 344;
export const SESSION_DER_BASE64_PATTERN = '^[A-Za-z0-9+/]+={0,2}$';
/** SessionsBatch `id`: hex of 1..SESSION_ID_MAX_BYTES bytes. */
export const SESSION_ID_HEX_PATTERN = `^(?:[0-9a-fA-F]{2}){1,${SESSION_ID_MAX_BYTES}}$`;
/** POST /v1/sessions: sessions per batch, and the body limit of that route (the only one above BODY_LIMIT_BYTES). */
export const SESSIONS_BATCH_MAX = 64;
export const SESSIONS_BODY_LIMIT_BYTES = 64 * 1024;
/**
 * POST /v1/sessions/stream (peers only): one long-lived request per peer whose body is a stream of
 * binary frames (session-frames.ts), each a batch of ≤ SESSIONS_BATCH_MAX sessions, instead of a
 * JSON request per batch. The sender ends each stream after SESSIONS_STREAM_MAX_MS (well inside
 * the agent's 30 s request timeout); the answer, once the body ended, is SessionsBatchResponse
 * over the whole stream.
 */
export const SESSIONS_STREAM_PATH = '/v1/sessions/stream';
export const SESSIONS_STREAM_CONTENT_TYPE = 'application/vnd.ticketkeys.sessions.v1';
export const SESSIONS_STREAM_MAX_MS = 15_000;
/** u32 length, then version, count and count x (u8 id length, id, u16 DER length, DER, u32 time). */
export const SESSION_FRAME_VERSION = 1;
/** The largest frame after its length field: 64 sessions of a 32-byte id and a 256-byte DER. */
export const SESSION_FRAME_MAX_BYTES = 2 + SESSIONS_BATCH_MAX * (1 + SESSION_ID_MAX_BYTES + 2 + 256 + 4);
/** PUT /v1/session-sharing: 256 peers of ~250 bytes each need more than BODY_LIMIT_BYTES. */
export const SESSION_SHARING_BODY_LIMIT_BYTES = 128 * 1024;
/** PUT /v1/session-sharing bounds. */
export const SESSION_SHARING_MAX_PEERS = 256;
export const SESSION_SHARING_MAX_TTL_SECONDS = 86_400;
export const SESSION_SHARING_MAX_ENTRIES = 1_000_000;
/**
 * batchIntervalMs: how often, at most, an agent reads its ATS's new sessions and sends them. From
 * the plugin's 10 ms drain tick up to 1 s; a config without it means the default.
 */
export const SESSION_SHARING_MIN_BATCH_INTERVAL_MS = 10;
export const SESSION_SHARING_MAX_BATCH_INTERVAL_MS = 1000;
export const SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS = 40;
/** URI SANs per peer: its per-pod and its per-workload identity (acceptedAgentIdentities). */
export const SESSION_SHARING_MAX_PEER_IDENTITIES = 2;

/** Who reloaded ATS's configuration: the agent after the directory changed, or someone else. */
export const RELOAD_TRIGGERS = ['agent', 'external'] as const;
export type ReloadTrigger = (typeof RELOAD_TRIGGERS)[number];

export const HEALTH_STATUSES = ['ok', 'not-ready'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** The `error` of every error body. */
export const ERROR_CODES = [
  'bad_request',
  'unauthenticated',
  'forbidden',
  'not_found',
  'stale_generation',
  'payload_too_large',
  'unsupported_media_type',
  'ats_unavailable',
  'readback_timeout',
  /** POST /v1/sessions while session sharing is off (or PUT enabled=true on an agent whose ATS bridge cannot share). */
  'sharing_disabled',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
