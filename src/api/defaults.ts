// Default values and bounds of the TicketKeySet spec. The CRD schema carries them (the API
// server applies defaults), and code that builds specs in memory (tests, `withSpecDefaults`)
// reads the same constants.
import { SESSION_SHARING_MAX_ENTRIES } from '../contract/agent-wire.ts';

export const DEFAULT_ROTATION_INTERVAL = '12h';
/** Lowest rotation interval, low enough that tests and demos can rotate fast. */
export const MIN_ROTATION_INTERVAL = '10s';
export const DEFAULT_SUSPEND = false;

/** RFC 8446 section 4.6.1: a ticket lifetime must not exceed 7 days. */
export const MAX_TICKET_LIFETIME = '168h';
export const MIN_TICKET_LIFETIME = '1s';

export const PROMOTION_POLICIES = ['AllPodsAcknowledged', 'Immediate'] as const;
export type PromotionPolicy = (typeof PROMOTION_POLICIES)[number];
export const DEFAULT_PROMOTION_POLICY: PromotionPolicy = 'AllPodsAcknowledged';
export const DEFAULT_PROMOTION_TIMEOUT = '5m';
export const MIN_PROMOTION_TIMEOUT = '1s';

export const DEFAULT_AGENT_PORT = 9443;

export const DEFAULT_FLUSH_ON_REVOKE = true;

/**
 * fileFallback: how long kubelet may take to bring a Secret change into a pod's volume (its sync
 * period plus the Secret cache TTL: 60–120 s with the defaults), with a minute of margin for a
 * slow or retried Secret write and a busy node.
 */
export const DEFAULT_FILE_PROPAGATION_DELAY = '3m';
export const MAX_FILE_PROPAGATION_DELAY = '1h';

/**
 * Serving pods the operator may take out of service at once through the readiness gate (only
 * pods observed holding a ring the fleet cannot decrypt; never for an unreachable agent).
 */
export const DEFAULT_MAX_UNAVAILABLE = 1;

/** sessionCache.sharing: off unless asked for (session secrets leave the process). */
export const DEFAULT_SESSION_SHARING_ENABLED = false;
/** sessionCache.sharing.maxEntries: sessions each agent keeps queued and remembers (dedupe). */
export const DEFAULT_SESSION_SHARING_MAX_ENTRIES = 10_000;
export const MAX_SESSION_SHARING_MAX_ENTRIES = SESSION_SHARING_MAX_ENTRIES;
/** sessionCache.sharing.ttl: how long a shared session stays usable on the pods it was sent to. */
export const DEFAULT_SESSION_SHARING_TTL = '5m';
export const MIN_SESSION_SHARING_TTL = '1s';
/** The agent API's bound of ttlSeconds (86400). */
export const MAX_SESSION_SHARING_TTL = '24h';
/**
 * sessionCache.sharing.batchInterval: how often, at most, each agent reads its pod's new sessions
 * and sends them (the agent API's batchIntervalMs; its bounds: the plugin's 10 ms drain tick, 1 s).
 */
export const DEFAULT_SESSION_SHARING_BATCH_INTERVAL = '40ms';
export const MIN_SESSION_SHARING_BATCH_INTERVAL = '10ms';
export const MAX_SESSION_SHARING_BATCH_INTERVAL = '1s';
