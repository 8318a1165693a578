// Session sharing (spec.sessionCache.sharing): each pod's agent sends the TLS sessions its ATS
// creates to the agents of the other pods of the set. The operator owns the peer lists: after
// the rounds (never before key delivery, never blocking it) it computes the config each pod
// should hold, compares its hash with the `configHash` the pod's agent reported beside its ring
// (GET /v1/ring `sessionSharing`), and sends the config (PUT /v1/session-sharing) only where
// they differ. A failed send is logged and counted, and retried by the next reconcile (the pod
// still reports the old hash). What an agent reports is input: a report that is not what the
// protocol allows is refused (that pod reports nothing, and is left alone), never trusted.
import { acceptedAgentIdentities } from '../../agent/identity.ts';
import type { GetRingResponse } from '../../agent/protocol.ts';
import type { DefaultedTicketKeySetSpec, SessionSharingSummary } from '../../api/index.ts';
import {
  SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS,
  SESSION_SHARING_MAX_BATCH_INTERVAL_MS,
  SESSION_SHARING_MAX_PEERS,
  SESSION_SHARING_MIN_BATCH_INTERVAL_MS,
  sessionSharingConfigHash,
  type SessionSharingConfig,
  type SessionSharingPeer,
} from '../../contract/session-sharing.ts';
import { parseDuration } from '../../core/duration.ts';
import { describeError } from '../../observability/describe-error.ts';
import type { Logger } from '../../observability/logger.ts';
import type { AgentPort } from './agents.ts';
import { mapBounded } from './fan-out.ts';
import { agentAddress, type TargetPod } from './pods.ts';

/** Largest counter accepted from a pod (as tls-report.ts): a sum over many pods stays a safe integer. */
export const MAX_SHARING_COUNTER = 2 ** 48;

/** The counters an agent reports, in the order of the metric's `direction` label. */
export const SHARING_DIRECTIONS = ['exported', 'sent', 'received', 'inserted', 'dropped', 'refused'] as const;
export type SharingDirection = (typeof SHARING_DIRECTIONS)[number];

/** One pod's validated `sessionSharing` report. */
export interface PodSessionSharing {
  readonly enabled: boolean;
  /** sha256 hex of the config the agent holds (contract/session-sharing.ts). */
  readonly configHash: string;
  readonly peers: number;
  readonly counters: Readonly<Record<SharingDirection, number>>;
}

const HASH = /^[0-9a-f]{64}$/;

/** The agent's report (declared loosely in GetRingResponse: it is input, validated here). */
export function reportedSessionSharing(ring: GetRingResponse): unknown {
  return ring.sessionSharing;
}

/**
 * One GET /v1/ring answer's `sessionSharing`: undefined when absent (an agent older than
 * sharing), { error } when present but not what the protocol allows.
 */
export function sessionSharingOf(report: unknown): PodSessionSharing | { error: string } | undefined {
  if (report === undefined) return undefined;
  if (report === null || typeof report !== 'object' || Array.isArray(report)) return { error: 'sessionSharing is not an object' };
  const r = report as Record<string, unknown>;
  if (typeof r.enabled !== 'boolean') return { error: 'sessionSharing.enabled is not a boolean' };
  if (typeof r.configHash !== 'string' || !HASH.test(r.configHash)) return { error: 'sessionSharing.configHash is not 64 lower-case hex characters' };
  if (!isCount(r.peers, SESSION_SHARING_MAX_PEERS)) return { error: `sessionSharing.peers is not an integer between 0 and ${SESSION_SHARING_MAX_PEERS}` };
  const counters = {} as Record<SharingDirection, number>;
  for (const d of SHARING_DIRECTIONS) {
    const v = r[d];
    if (!isCount(v, MAX_SHARING_COUNTER)) return { error: `sessionSharing.${d} is not an integer between 0 and ${MAX_SHARING_COUNTER}` };
    counters[d] = v;
  }
  return { enabled: r.enabled, configHash: r.configHash, peers: r.peers, counters };
}

function isCount(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

/** "ip:port", with IPv6 addresses bracketed (as Go's net.JoinHostPort). */
export function peerAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The config `pod` should hold: the spec's settings, and as peers the other non-terminating
 * target pods (each has an IP: targetPods keeps only those), sorted by name, at most
 * SESSION_SHARING_MAX_PEERS, each with the identities its agent certificate may carry.
 * Disabled: enabled=false and no peers.
 */
export function wantedSessionSharing(pod: TargetPod, targets: readonly TargetPod[], spec: DefaultedTicketKeySetSpec): SessionSharingConfig {
  const { enabled, maxEntries, ttl, batchInterval } = spec.sessionCache.sharing;
  const ttlSeconds = Math.max(1, Math.floor(parseDuration(ttl) / 1000));
  if (!enabled) return { enabled: false, ttlSeconds, maxEntries, peers: [] };
  // Only when not the default: agents from before the field refuse a config that names it.
  const intervalMs = Math.min(SESSION_SHARING_MAX_BATCH_INTERVAL_MS, Math.max(SESSION_SHARING_MIN_BATCH_INTERVAL_MS, Math.round(parseDuration(batchInterval))));
  const interval = intervalMs === SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS ? {} : { batchIntervalMs: intervalMs };
  const peers: SessionSharingPeer[] = [];
  for (const t of [...targets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (peers.length >= SESSION_SHARING_MAX_PEERS) break;
    if (t.name === pod.name || t.terminating || !t.ip) continue;
    let identities: string[];
    try {
      identities = acceptedAgentIdentities({ namespace: t.namespace, name: t.name, serviceAccountName: t.serviceAccountName });
    } catch {
      continue; // a name no identity can carry: its agent could never prove to be that peer
    }
    peers.push({ name: t.name, address: peerAddress(t.ip, spec.agent.port), identities });
  }
  return { enabled: true, ttlSeconds, maxEntries, ...interval, peers };
}

/**
 * The configs to send: pods whose agent reported (validly) in this reconcile and holds another
 * config than the wanted one. With sharing disabled in the spec, only pods reporting it enabled
 * (they are told enabled=false). Pods without a report (older agents, unreachable, refused
 * reports) are left alone.
 */
export function sessionSharingPushes(
  spec: DefaultedTicketKeySetSpec,
  targets: readonly TargetPod[],
  reports: ReadonlyMap<string, PodSessionSharing | undefined>,
): Array<{ pod: TargetPod; config: SessionSharingConfig }> {
  const out: Array<{ pod: TargetPod; config: SessionSharingConfig }> = [];
  for (const pod of targets) {
    if (pod.terminating) continue;
    const report = reports.get(pod.name);
    if (!report) continue;
    const config = wantedSessionSharing(pod, targets, spec);
    if (!spec.sessionCache.sharing.enabled ? report.enabled : sessionSharingConfigHash(config) !== report.configHash) out.push({ pod, config });
  }
  return out;
}

export interface SharingPushOutcome {
  /** Pods whose agent took the config. */
  readonly pushed: readonly string[];
  /** Pods whose agent did not, with the error (one line, no request data). */
  readonly failed: ReadonlyMap<string, string>;
}

/** Sends each pod its config (bounded fan-out); a failure is that pod's, logged, never thrown. */
export async function pushSessionSharing(i: {
  spec: DefaultedTicketKeySetSpec;
  targets: readonly TargetPod[];
  reports: ReadonlyMap<string, PodSessionSharing | undefined>;
  agents: Pick<AgentPort, 'putSessionSharing'>;
  concurrency: number;
  log: Logger;
  onResult?: (result: 'success' | 'error') => void;
}): Promise<SharingPushOutcome> {
  const pushes = sessionSharingPushes(i.spec, i.targets, i.reports);
  const pushed: string[] = [];
  const failed = new Map<string, string>();
  await mapBounded(pushes, i.concurrency, async ({ pod, config }) => {
    try {
      await i.agents.putSessionSharing(agentAddress(pod, i.spec.agent.port), config);
      pushed.push(pod.name);
      i.onResult?.('success');
    } catch (err) {
      const error = describeError(err);
      failed.set(pod.name, error);
      i.onResult?.('error');
      i.log.warn('could not send the session-sharing config to the pod\'s agent; the next reconcile tries again', { pod: pod.name, enabled: config.enabled, peers: config.peers.length, error });
    }
  });
  if (pushed.length > 0) i.log.info('sent session-sharing config', { pods: pushed.sort(), enabled: i.spec.sessionCache.sharing.enabled });
  return { pushed, failed };
}

/** status.pods.sessionSharing: sums over the pods that reported valid counters; undefined when none did. */
export function sessionSharingSummary(reports: Iterable<PodSessionSharing | undefined>): SessionSharingSummary | undefined {
  let podsReporting = 0;
  const sums: Record<SharingDirection, number> = { exported: 0, sent: 0, received: 0, inserted: 0, dropped: 0, refused: 0 };
  for (const r of reports) {
    if (!r) continue;
    podsReporting++;
    for (const d of SHARING_DIRECTIONS) sums[d] = Math.min(Number.MAX_SAFE_INTEGER, sums[d] + r.counters[d]);
  }
  return podsReporting === 0 ? undefined : { podsReporting, ...sums };
}
