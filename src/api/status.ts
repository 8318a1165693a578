// TicketKeySet status: what the operator observed and did. Fingerprints only, never key bytes.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { FINGERPRINT_HEX_LENGTH, FINGERPRINT_PATTERN, MAX_RING_KEYS } from '../contract/keys.ts';
import { ConditionSchema } from './condition.ts';
import { StringEnum, Timestamp, describe } from './schema-kit.ts';

export const PHASES = ['Stable', 'Staging', 'Promoting', 'Revoking'] as const;
export type Phase = (typeof PHASES)[number];

/** Bound of status.pods.items: status stays small however many pods are selected (laggards first). */
export const MAX_POD_STATUS_ITEMS = 50;
/** Bound of status.retiredKeys: a ring holds at most MAX_RING_KEYS (16) keys (the bridge plugin's limit). */
export const MAX_RETIRED_KEYS = MAX_RING_KEYS;
export const MAX_CONDITIONS = 8;
/** Bound of status.lastHandledReconcileAt: longer requestedAt values are not acknowledged (Flux writes RFC 3339 times). */
export const MAX_REQUESTED_AT_LENGTH = 256;

/** 16 lower-case hex characters (src/contract/keys.ts): identifies a key or ring, reveals nothing. */
export { FINGERPRINT_PATTERN };

const Fingerprint = (description: string) =>
  Type.String({ description, pattern: FINGERPRINT_PATTERN, maxLength: FINGERPRINT_HEX_LENGTH });

export const KeyStatusSchema = Type.Object(
  {
    fingerprint: Fingerprint('Fingerprint of the key: a truncated one-way hash, never the key bytes or the key name.'),
    createdAt: Timestamp('When the key was generated (and persisted in the Secret).'),
    promotedAt: Type.Optional(Timestamp('When the key became the encrypting (active) key; absent while staged.')),
    retiredAt: Type.Optional(Timestamp('When the key stopped encrypting and became decrypt-only.')),
    expiresAt: Type.Optional(
      Timestamp('When a retired key is destroyed: retiredAt + ticketLifetime + promotion.timeout.'),
    ),
  },
  { description: 'A key of the ring, identified by its fingerprint, with its lifecycle timestamps.' },
);

export const PodStatusSchema = Type.Object(
  {
    name: Type.String({ description: 'Name of the pod.', minLength: 1, maxLength: 253 }),
    generation: Type.Optional(
      Type.Integer({
        description: 'Ring generation the pod\'s agent last acknowledged.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    ringFingerprint: Type.Optional(
      Fingerprint('Fingerprint of the ring ATS holds in this pod, as reported by its agent.'),
    ),
    lastAckTime: Type.Optional(Timestamp('When the pod\'s agent last acknowledged a ring.')),
    error: Type.Optional(
      Type.String({
        description: 'Why the pod is behind (e.g. agent unreachable, ring rejected); empty when converged.',
        maxLength: 1024,
      }),
    ),
    configHash: Type.Optional(
      Type.String({
        description:
          'Hash of the mounted ATS configuration the pod\'s agent last applied (agents started with --config-dir only); ' +
          'compare with the hash of spec.atsConfig.configMapRef in the ConfigConsistent message.',
        pattern: '^sha256:[0-9a-f]{64}$',
        maxLength: 71,
      }),
    ),
    lastReloadTime: Type.Optional(Timestamp('When the pod\'s agent last saw ATS reload its configuration (any trigger).')),
  },
  { description: 'What one selected pod holds.' },
);

/** Bound of the counters in status.pods.resumption (sums of per-pod counters, each bounded by the operator). */
const MAX_SAFE_COUNTER = Number.MAX_SAFE_INTEGER;

export const ResumptionStatusSchema = Type.Object(
  {
    ticketsNotFound: Type.Integer({
      description:
        'Session tickets that no key of the pod\'s ATS could decrypt (ATS proxy.process.ssl.total_tickets_not_found): ' +
        'resumptions that fell back to a full handshake. Summed over the pods in podsReporting; each pod\'s counter ' +
        'starts at 0 when its ATS starts. Should stay flat during rotations.',
      format: 'int64',
      minimum: 0,
      maximum: MAX_SAFE_COUNTER,
    }),
    ticketsVerifiedOldKey: Type.Integer({
      description:
        'Session tickets decrypted with a key other than the encrypting one (ATS proxy.process.ssl.total_tickets_verified_old_key): ' +
        'resumed, and renewed under the active key. Summed like ticketsNotFound.',
      format: 'int64',
      minimum: 0,
      maximum: MAX_SAFE_COUNTER,
    }),
    podsReporting: Type.Integer({
      description: 'Pods whose agent reported valid counters in the reconcile that computed this summary.',
      format: 'int32',
      minimum: 0,
    }),
  },
  {
    description:
      'Resumption SLO signal from ATS, summed over the selected pods. Refreshed at most once per resync period on its own ' +
      '(and with every other status change); the per-pod values, live at every scrape, are the metrics ' +
      'ticketkeys_pod_tls_tickets_not_found and ticketkeys_pod_tls_tickets_verified_old_key. Absent while no pod reports them.',
  },
);

/** Bound of each counter of status.pods.sessionSharing (a sum over pods, each counter bounded by the operator). */
const sharingCounter = (description: string) => Type.Integer({ description, format: 'int64', minimum: 0, maximum: MAX_SAFE_COUNTER });

export const SessionSharingSummarySchema = Type.Object(
  {
    podsReporting: Type.Integer({
      description: 'Pods whose agent reported valid session-sharing counters in the reconcile that computed this summary.',
      format: 'int32',
      minimum: 0,
    }),
    exported: sharingCounter('Sessions the pods\' ATS handed to their agent for sharing (each new cacheable TLS 1.2 session once).'),
    sent: sharingCounter('Sessions delivered to a peer pod, counted once per peer that accepted them.'),
    received: sharingCounter('Sessions in batches the pods\' agents accepted from a peer.'),
    inserted: sharingCounter('Received sessions handed to ATS\'s session cache.'),
    dropped: sharingCounter('Sessions not sent: the queue was full (sessionCache.sharing.maxEntries) or a delivery failed.'),
    refused: sharingCounter('Sessions or batches refused: failed validation (size, age, created before the last flush) or from a caller that is not a peer.'),
  },
  {
    description:
      'Session sharing (spec.sessionCache.sharing), summed over the selected pods: each agent\'s counters since it started. ' +
      'Present only while sharing is enabled and a pod reports them; refreshed like resumption. The per-pod values are the ' +
      'metric ticketkeys_pod_session_sharing_sessions. Never holds session material.',
  },
);

export const PodsStatusSchema = Type.Object(
  {
    total: Type.Optional(
      Type.Integer({ description: 'Number of selected pods that are Running and not terminating.', format: 'int32', minimum: 0 }),
    ),
    converged: Type.Optional(
      Type.Integer({ description: 'Number of those pods whose ATS holds the current ring.', format: 'int32', minimum: 0 }),
    ),
    summary: Type.Optional(
      Type.String({
        description: 'converged/total as text, e.g. "3/3", for the Converged printer column.',
        maxLength: 32,
      }),
    ),
    items: Type.Optional(
      Type.Array(PodStatusSchema, {
        description: `Per-pod detail, laggards first, at most ${MAX_POD_STATUS_ITEMS} entries.`,
        maxItems: MAX_POD_STATUS_ITEMS,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
    ),
    resumption: Type.Optional(ResumptionStatusSchema),
    sessionSharing: Type.Optional(SessionSharingSummarySchema),
  },
  { description: 'Convergence of the selected pods on the current ring.' },
);

/** With rotation.schedule: where the schedule stands (the reason a due slot is not rotated now). */
export const SCHEDULE_STATES = ['Waiting', 'Due', 'WaitingForWindow', 'Skipped'] as const;
export const ScheduledRotationStatusSchema = Type.Object(
  {
    state: StringEnum(SCHEDULE_STATES, {
      description:
        'Waiting: the next slot has not come. Due: a slot came and its rotation runs (or waits for the rotation in flight). ' +
        'WaitingForWindow: a slot came outside every maintenance window and waits for the next opening. Skipped: the ' +
        'latest slot missed rotation.startingDeadline and the next slot is waited for.',
    }),
    slot: Type.Optional(Timestamp('The slot (fire time of rotation.schedule) this state is about.')),
    message: Type.String({ description: 'The state in words.', maxLength: 1024 }),
  },
  { description: 'Present with rotation.schedule.' },
);

export const RotationWindowStatusSchema = Type.Object(
  {
    open: Type.Boolean({ description: 'Whether a maintenance window is open now.' }),
    opensAt: Type.Optional(Timestamp('Open: when the open window opened. Closed: when the next one opens.')),
    closesAt: Type.Optional(Timestamp('Open: when it closes. Closed: when the next one closes.')),
  },
  { description: 'Present with rotation.windows: the maintenance-window state when the status was written.' },
);

export const TicketKeySetStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({
        description: 'The .metadata.generation of the spec this status reflects.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    conditions: Type.Optional(
      Type.Array(ConditionSchema, {
        description:
          'Ready: every selected pod holds the current ring. Progressing: a rotation is under way. ' +
          'Degraded: a rotation is stuck (e.g. pods did not acknowledge within promotion.timeout; the message names them). ' +
          'Reconciling (kstatus): the operator still works towards Ready. Stalled (kstatus): no progress without a change by the user.',
        maxItems: MAX_CONDITIONS,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
    keyGeneration: Type.Optional(
      Type.Integer({
        description: 'Generation of the current ring; strictly increases with every ring change.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    phase: Type.Optional(
      StringEnum(PHASES, {
        description:
          'Where the rotation protocol stands. Stable: one active key, nothing pending. Staging: a new key is ' +
          'being pushed decrypt-only. Promoting: the staged key is becoming the encrypting key. Revoking: an ' +
          'emergency revoke is replacing every key.',
      }),
    ),
    activeKey: Type.Optional(
      describe(KeyStatusSchema, 'The key that encrypts new tickets on every pod (every key of the ring decrypts).'),
    ),
    stagedKey: Type.Optional(
      describe(KeyStatusSchema, 'The next key, pushed decrypt-only and waiting for every pod to acknowledge it.'),
    ),
    retiredKeys: Type.Optional(
      Type.Array(KeyStatusSchema, {
        description: 'Retired keys, decrypt-only until they expire, newest first.',
        maxItems: MAX_RETIRED_KEYS,
      }),
    ),
    lastRotationTime: Type.Optional(Timestamp('When the last key was promoted.')),
    nextRotationTime: Type.Optional(
      Timestamp('When the next scheduled rotation starts (absent while rotation.suspend is true).'),
    ),
    scheduledRotation: Type.Optional(ScheduledRotationStatusSchema),
    rotationWindow: Type.Optional(RotationWindowStatusSchema),
    pods: Type.Optional(PodsStatusSchema),
    secretName: Type.Optional(
      Type.String({
        description: 'Name of the operator-owned Secret holding the key ring (<name>-ticket-keys).',
        maxLength: 253,
      }),
    ),
    lastHandledReconcileAt: Type.Optional(
      Type.String({
        description:
          'The last reconcile.fluxcd.io/requestedAt annotation value the operator reconciled (Flux\'s convention): ' +
          'a new value triggers a reconcile, never a rotation (ticketkeys.dev/rotate-now does that).',
        maxLength: MAX_REQUESTED_AT_LENGTH,
      }),
    ),
  },
  { description: 'Observed state of the keys and of the selected pods. Written by the operator.' },
);

export type TicketKeySetStatus = Static<typeof TicketKeySetStatusSchema>;
export type KeyStatus = Static<typeof KeyStatusSchema>;
export type PodStatus = Static<typeof PodStatusSchema>;
export type PodsStatus = Static<typeof PodsStatusSchema>;
export type ResumptionStatus = Static<typeof ResumptionStatusSchema>;
export type SessionSharingSummary = Static<typeof SessionSharingSummarySchema>;
