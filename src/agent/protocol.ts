// The agent's wire protocol: TypeBox schemas, built from the names and limits of
// src/contract/agent-wire.ts, are the one source for validation (agent) and types (agent,
// client, operator). Bodies never echo key material back: responses carry fingerprints only.
import { Type, type Static, type TLiteral, type TUnion } from '@sinclair/typebox';
import {
  ERROR_CODES,
  FINGERPRINT_PATTERN,
  HEALTH_STATUSES,
  KEY_STATES,
  MATERIAL_MAX_LENGTH,
  MATERIAL_PATTERN,
  MAX_RING_KEYS,
  RELOAD_TRIGGERS,
  SESSION_DER_BASE64_MAX_LENGTH,
  SESSION_DER_BASE64_PATTERN,
  SESSION_ID_HEX_PATTERN,
  SESSION_SHARING_MAX_BATCH_INTERVAL_MS,
  SESSION_SHARING_MAX_ENTRIES,
  SESSION_SHARING_MAX_PEER_IDENTITIES,
  SESSION_SHARING_MAX_PEERS,
  SESSION_SHARING_MAX_TTL_SECONDS,
  SESSION_SHARING_MIN_BATCH_INTERVAL_MS,
  SESSIONS_BATCH_MAX,
} from '../contract/agent-wire.ts';

export { OPERATOR_IDENTITY } from './identity.ts';
export { BODY_LIMIT_BYTES, MAX_RING_KEYS, SESSION_ID_HEX, SESSION_SHARING_BODY_LIMIT_BYTES, SESSIONS_BODY_LIMIT_BYTES } from '../contract/agent-wire.ts';

type LiteralUnion<T extends readonly string[]> = TUnion<TLiteral<T[number]>[]>;

/** anyOf of string literals, one per name of a contract enumeration (in its order). */
function literals<const T extends readonly string[]>(values: T): LiteralUnion<T> {
  return Type.Union(values.map((v) => Type.Literal(v))) as unknown as LiteralUnion<T>;
}

export const Fingerprint = Type.String({ pattern: FINGERPRINT_PATTERN });
export const KeyState = literals(KEY_STATES);
export type KeyState = Static<typeof KeyState>;
/** RFC 3339 timestamp (UTC, from Date.toISOString). */
const Timestamp = Type.String({ description: 'RFC 3339 date-time' });

export const RingKey = Type.Object(
  {
    fingerprint: Fingerprint,
    // Base64 of exactly KEY_BYTES (48) bytes (64 chars, no padding). The length rule is checked
    // after the schema so the error can say so; the schema only bounds the string.
    material: Type.String({ maxLength: MATERIAL_MAX_LENGTH, pattern: MATERIAL_PATTERN }),
    state: KeyState,
  },
  { additionalProperties: false },
);
export type RingKey = Static<typeof RingKey>;

export const PutRingRequest = Type.Object(
  {
    generation: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    /** Push order: keys[0] encrypts new tickets and must be 'active'; every key decrypts. */
    keys: Type.Array(RingKey, { minItems: 1, maxItems: MAX_RING_KEYS }),
    /**
     * Emergency revoke: this ring replaces every key (the operator flushes session caches
     * alongside). It grants nothing else: like every ring it must carry a generation above the
     * accepted one and above what ATS holds (409 stale_generation otherwise), so a revoke
     * never rolls a pod back.
     */
    revoke: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type PutRingRequest = Static<typeof PutRingRequest>;

export const PutRingResponse = Type.Object({
  generation: Type.Integer(),
  ringFingerprint: Fingerprint,
  activeFingerprint: Fingerprint,
  /** When the agent saw ATS holding exactly this ring. */
  installedAt: Timestamp,
  atsStartTime: Timestamp,
});
export type PutRingResponse = Static<typeof PutRingResponse>;

/** The last ring this agent accepted (and proved installed), by fingerprints only. */
export const AcceptedRing = Type.Object({
  generation: Type.Integer(),
  ringFingerprint: Fingerprint,
  activeFingerprint: Fingerprint,
  keyFingerprints: Type.Array(Fingerprint),
  installedAt: Timestamp,
});
export type AcceptedRing = Static<typeof AcceptedRing>;

export const ReloadTrigger = literals(RELOAD_TRIGGERS);
export type ReloadTrigger = Static<typeof ReloadTrigger>;

/** One ATS configuration reload, after the agent verified (and if needed re-asserted) its ring. */
export const LastReload = Type.Object({
  time: Timestamp,
  /** Hash of the config directory applied; for an external reload, the one the agent last saw. */
  configHash: Type.String(),
  /** 'agent': the agent reloaded after the directory changed; 'external': someone else did. */
  trigger: ReloadTrigger,
  /** ATS was found holding another ring after the reload and the agent re-installed its own. */
  keysReasserted: Type.Boolean(),
  /** How long ATS was seen holding something other than the accepted ring (0: never seen). */
  windowMs: Type.Number({ minimum: 0 }),
});
export type LastReload = Static<typeof LastReload>;

/**
 * ATS's own session-ticket counters since traffic_server started (ATS 9: records
 * proxy.process.ssl.total_tickets_not_found and proxy.process.ssl.total_tickets_verified_old_key).
 */
export const TlsTicketCounters = Type.Object({
  /** Tickets no key in ATS's ring could decrypt: each one a resumption that fell back to a full handshake. */
  ticketsNotFound: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  /** Tickets decrypted with a key other than the encrypting one (resumed, and renewed under the active key). */
  ticketsVerifiedOldKey: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
});
export type TlsTicketCounters = Static<typeof TlsTicketCounters>;

export const GetRingResponse = Type.Object({
  /** What ATS holds now, from the bridge plugin's stats. generation 0: nothing pushed since start. */
  ats: Type.Object({
    generation: Type.Integer(),
    keyCount: Type.Integer(),
    ringFingerprint: Type.String(),
    rejected: Type.Integer(),
    startTime: Timestamp,
  }),
  accepted: Type.Union([AcceptedRing, Type.Null()]),
  /** ATS holds exactly the accepted ring (the agent's readiness). */
  inSync: Type.Boolean(),
  /**
   * Hash (core/ats-config/config-hash.ts) of the config directory the agent last applied.
   * Optional: absent from older agents and from agents run without --config-dir.
   */
  configHash: Type.Optional(Type.String()),
  /** The last ATS configuration reload the agent saw and verified. Optional, as configHash. */
  lastReload: Type.Optional(LastReload),
  /**
   * TlsTicketCounters, when the bridge can read them (absent from older agents, and while ATS
   * does not publish them). Declared loosely here on purpose: the counters are a diagnostic, so
   * a malformed value must not make the client refuse the whole answer (and with it the ring
   * report); the operator validates them on their own (operator/reconciler/tls-report.ts).
   */
  tls: Type.Optional(Type.Unknown()),
  /**
   * SessionSharingStatus (absent from older agents). Declared loosely like `tls`, for the same
   * reason; the operator validates it with SessionSharingStatus on its own.
   */
  sessionSharing: Type.Optional(Type.Unknown()),
});
export type GetRingResponse = Static<typeof GetRingResponse>;

export const SessionCacheStatsResponse = Type.Object({
  tracked: Type.Integer(),
  removed: Type.Integer(),
  flushes: Type.Integer(),
  /** Optional: agents and plugins older than this field do not report it. */
  hits: Type.Optional(Type.Integer()),
  /** SessionSharingStatus, absent from older agents; loose like GetRingResponse.sessionSharing. */
  sharing: Type.Optional(Type.Unknown()),
});
export type SessionCacheStatsResponse = Static<typeof SessionCacheStatsResponse>;

// Session sharing (issue 14): the operator configures each agent with PUT /v1/session-sharing;
// agents send the TLS sessions their ATS creates to their peers as frames of POST /v1/sessions/stream
// (session-frames.ts), or with POST /v1/sessions to a peer from before streams.

/** Another pod of the same TicketKeySet, as the operator knows it (never learnt from the network). */
export const Peer = Type.Object(
  {
    /** Pod name. */
    name: Type.String({ minLength: 1, maxLength: 253 }),
    /** "ip:port" ("[v6]:port") of the peer's agent API. */
    address: Type.String({ minLength: 3, maxLength: 64 }),
    /** URI SANs of which the peer's certificate must carry one (acceptedAgentIdentities of its pod). */
    identities: Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { minItems: 1, maxItems: SESSION_SHARING_MAX_PEER_IDENTITIES }),
  },
  { additionalProperties: false },
);
export type Peer = Static<typeof Peer>;

/** PUT /v1/session-sharing: the whole configuration (replaces the previous one). */
export const SessionSharingConfig = Type.Object(
  {
    enabled: Type.Boolean(),
    /** Lifetime of a shared session in the receiving ATS, and the oldest session accepted. */
    ttlSeconds: Type.Integer({ minimum: 1, maximum: SESSION_SHARING_MAX_TTL_SECONDS }),
    /** Bound of the send queue and of the ids remembered for de-duplication. */
    maxEntries: Type.Integer({ minimum: 1, maximum: SESSION_SHARING_MAX_ENTRIES }),
    /** Sessions are read from ATS and sent at most this often (ms); absent: the default (40). */
    batchIntervalMs: Type.Optional(Type.Integer({ minimum: SESSION_SHARING_MIN_BATCH_INTERVAL_MS, maximum: SESSION_SHARING_MAX_BATCH_INTERVAL_MS })),
    peers: Type.Array(Peer, { maxItems: SESSION_SHARING_MAX_PEERS }),
  },
  { additionalProperties: false },
);
export type SessionSharingConfig = Static<typeof SessionSharingConfig>;

/** One TLS 1.2 session: its id (hex), its DER (base64; as secret as a key), its creation time (unix s). */
export const SharedSession = Type.Object(
  {
    id: Type.String({ pattern: SESSION_ID_HEX_PATTERN }),
    der: Type.String({ minLength: 4, maxLength: SESSION_DER_BASE64_MAX_LENGTH, pattern: SESSION_DER_BASE64_PATTERN }),
    time: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);
export type SharedSession = Static<typeof SharedSession>;

/** POST /v1/sessions (peers only). */
export const SessionsBatch = Type.Object(
  { sessions: Type.Array(SharedSession, { minItems: 1, maxItems: SESSIONS_BATCH_MAX }) },
  { additionalProperties: false },
);
export type SessionsBatch = Static<typeof SessionsBatch>;

/** The answer to POST /v1/sessions: sessions handed to ATS, sessions refused (each counted). */
export const SessionsBatchResponse = Type.Object({
  accepted: Type.Integer({ minimum: 0 }),
  refused: Type.Integer({ minimum: 0 }),
});
export type SessionsBatchResponse = Static<typeof SessionsBatchResponse>;

const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/**
 * An agent's session sharing: the answer to PUT /v1/session-sharing, `sessionSharing` in
 * GET /v1/ring and `sharing` in GET /v1/session-cache/stats. Counters since the agent started.
 */
export const SessionSharingStatus = Type.Object({
  enabled: Type.Boolean(),
  /** sessionSharingConfigHash of the configuration in use (of the default, disabled one before any PUT). */
  configHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  /** Peers in the configuration. */
  peers: Count,
  /** Sessions read from the ATS plugin. */
  exported: Count,
  /** Sessions delivered to a peer (2xx), counted per peer. */
  sent: Count,
  /** Sessions in POST /v1/sessions requests accepted from peers. */
  received: Count,
  /** Sessions handed to ATS. */
  inserted: Count,
  /** Send-queue overflow, sessions from before a flush, and failed deliveries (per peer). */
  dropped: Count,
  /** Received sessions that failed validation, and refused POST /v1/sessions requests (1 each). */
  refused: Count,
});
export type SessionSharingStatus = Static<typeof SessionSharingStatus>;

/** What an agent runs with before the operator configures it. */
export const DEFAULT_SESSION_SHARING_CONFIG: SessionSharingConfig = { enabled: false, ttlSeconds: 300, maxEntries: 10_000, peers: [] };

/**
 * sha256 (hex) of the canonical JSON of a configuration, the `configHash` an agent reports: one
 * function (src/contract/session-sharing.ts) for the agent and the operator, which compares it
 * with the hash of the configuration it wants for that pod.
 */
export { sessionSharingConfigHash } from '../contract/session-sharing.ts';

export const HealthResponse = Type.Object({
  status: literals(HEALTH_STATUSES),
  reason: Type.Optional(Type.String()),
});
export type HealthResponse = Static<typeof HealthResponse>;

export const ErrorCode = literals(ERROR_CODES);
export type ErrorCode = Static<typeof ErrorCode>;

/** Every error body. `message` is written by the agent and never contains request data. */
export const ErrorResponse = Type.Object({ error: ErrorCode, message: Type.String() });
export type ErrorResponse = Static<typeof ErrorResponse>;
