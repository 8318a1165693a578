// The session-sharing configuration the operator sends to each agent (PUT /v1/session-sharing)
// and the hash both ends compute over it: the agent reports `configHash` (GET /v1/ring
// `sessionSharing`), the operator compares it with the hash of the config it wants for that pod
// and sends the config only when they differ. One function, imported by both, so the two hashes
// cannot disagree. Node's crypto is the only import (a built-in: the folder stays dependency-free).
import { createHash } from 'node:crypto';
import {
  SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS,
  SESSION_SHARING_MAX_BATCH_INTERVAL_MS,
  SESSION_SHARING_MAX_PEERS,
  SESSION_SHARING_MIN_BATCH_INTERVAL_MS,
} from './agent-wire.ts';

/** Peers in one pod's config: the other pods of its TicketKeySet, at most this many. */
export { SESSION_SHARING_MAX_PEERS };
/** batchIntervalMs: its bounds and the value a config without it means. */
export { SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS, SESSION_SHARING_MAX_BATCH_INTERVAL_MS, SESSION_SHARING_MIN_BATCH_INTERVAL_MS };

/** One peer: the pod, where its agent listens, and the URI SANs its client certificate may carry. */
export interface SessionSharingPeer {
  /** Pod name. */
  readonly name: string;
  /** "ip:port" of the peer's agent ("[ip]:port" for IPv6). */
  readonly address: string;
  /** 1..2 URI SANs (acceptedAgentIdentities of the pod). */
  readonly identities: string[];
}

/** The whole sharing config of one agent (PUT /v1/session-sharing replaces it). */
export interface SessionSharingConfig {
  readonly enabled: boolean;
  readonly ttlSeconds: number;
  readonly maxEntries: number;
  /**
   * Sessions are read and sent at most this often (ms); absent: the default
   * (SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS). The operator sends it only when it is not the
   * default, so agents from before the field (which refuse unknown fields) keep working.
   */
  readonly batchIntervalMs?: number;
  /** Sorted by name. */
  readonly peers: SessionSharingPeer[];
}

/**
 * The canonical JSON of a config: JSON.stringify of { enabled, ttlSeconds, maxEntries,
 * [batchIntervalMs,] peers: [{ name, address, identities }] } in exactly this key order, peers
 * and identities in the order given (the operator sorts peers by name). batchIntervalMs only
 * when set and not the default, so a config without it hashes as before the field existed.
 * Extra properties are left out.
 */
export function sessionSharingCanonicalJson(config: SessionSharingConfig): string {
  const interval = config.batchIntervalMs;
  return JSON.stringify({
    enabled: config.enabled,
    ttlSeconds: config.ttlSeconds,
    maxEntries: config.maxEntries,
    ...(interval === undefined || interval === SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS ? {} : { batchIntervalMs: interval }),
    peers: config.peers.map((p) => ({ name: p.name, address: p.address, identities: [...p.identities] })),
  });
}

/** sha256 hex (64 lower-case chars) of the canonical JSON: the `configHash` an agent reports. */
export function sessionSharingConfigHash(config: SessionSharingConfig): string {
  return createHash('sha256').update(sessionSharingCanonicalJson(config), 'utf8').digest('hex');
}
