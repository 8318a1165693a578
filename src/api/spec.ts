// TicketKeySet spec: policy only, never key bytes. The TypeBox schema is the one source of both
// the CRD's OpenAPI schema and the TypeScript type.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import {
  DEFAULT_AGENT_PORT,
  DEFAULT_FILE_PROPAGATION_DELAY,
  DEFAULT_FLUSH_ON_REVOKE,
  DEFAULT_MAX_UNAVAILABLE,
  DEFAULT_PROMOTION_POLICY,
  DEFAULT_PROMOTION_TIMEOUT,
  DEFAULT_ROTATION_INTERVAL,
  DEFAULT_SESSION_SHARING_BATCH_INTERVAL,
  DEFAULT_SESSION_SHARING_ENABLED,
  DEFAULT_SESSION_SHARING_MAX_ENTRIES,
  DEFAULT_SESSION_SHARING_TTL,
  DEFAULT_SUSPEND,
  MAX_FILE_PROPAGATION_DELAY,
  MAX_SESSION_SHARING_BATCH_INTERVAL,
  MAX_SESSION_SHARING_MAX_ENTRIES,
  MAX_SESSION_SHARING_TTL,
  MAX_TICKET_LIFETIME,
  MIN_PROMOTION_TIMEOUT,
  MIN_ROTATION_INTERVAL,
  MIN_SESSION_SHARING_BATCH_INTERVAL,
  MIN_SESSION_SHARING_TTL,
  MIN_TICKET_LIFETIME,
  PROMOTION_POLICIES,
} from './defaults.ts';
import { LabelSelectorSchema } from './label-selector.ts';
import { MAX_SCHEDULE_LENGTH, MAX_TIME_ZONE_LENGTH, MAX_WINDOWS, MIN_STARTING_DEADLINE, MIN_WINDOW_DURATION, SCHEDULE_MACROS } from './schedule-bounds.ts';
import { CEL_KEY, Duration, IntOrPercent, StringEnum, celIsDuration } from './schema-kit.ts';
import type { CelRule } from './schema-kit.ts';

/** 5 fields (minute hour day-of-month month day-of-week) separated by spaces, or a macro. */
export const SCHEDULE_MACRO_PATTERN = '^ *@(yearly|annually|monthly|weekly|daily|midnight|hourly) *$';
export const SCHEDULE_FIELDS_PATTERN = '^ *[^ ]+( +[^ ]+){4} *$';
export const SCHEDULE_CHARSET_PATTERN = '^[0-9A-Za-z*/,?#@ -]+$';
export const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$';

/**
 * A cron expression as far as CEL can check it (field count and characters, readable messages);
 * the operator parses the rest and reports a bad expression in the Ready condition
 * (reason InvalidSpec).
 */
function CronExpression(field: string, description: string) {
  return Type.String({
    description,
    minLength: 1,
    maxLength: MAX_SCHEDULE_LENGTH,
    [CEL_KEY]: [
      {
        rule: `self.matches('${SCHEDULE_CHARSET_PATTERN}')`,
        message: `${field} may only use digits, names (JAN, MON), spaces and * / , - ? L W #, as in '0 3 * * *'`,
      },
      {
        rule: `!self.trim().startsWith('@') || self.matches('${SCHEDULE_MACRO_PATTERN}')`,
        message: `${field} macro must be one of ${SCHEDULE_MACROS.join(', ')}`,
      },
      {
        rule: `self.trim().startsWith('@') || self.matches('${SCHEDULE_FIELDS_PATTERN}')`,
        message: `${field} must have exactly 5 fields (minute hour day-of-month month day-of-week), e.g. '0 3 * * *'; seconds are not supported`,
      },
    ],
  });
}

function TimeZone(field: string, description: string) {
  return Type.String({
    description,
    minLength: 1,
    maxLength: MAX_TIME_ZONE_LENGTH,
    [CEL_KEY]: [
      {
        rule: `self.matches('${TIME_ZONE_PATTERN}')`,
        message: `${field} must be an IANA time zone name such as UTC, Europe/Berlin or America/New_York`,
      },
    ],
  });
}

export const RotationWindowSchema = Type.Object(
  {
    schedule: CronExpression(
      'rotation.windows[].schedule',
      'When the window opens: a 5-field cron expression or macro, read in the window\'s timeZone (as rotation.schedule).',
    ),
    timeZone: Type.Optional(TimeZone('rotation.windows[].timeZone', 'IANA time zone of the window\'s schedule. Unset means rotation.timeZone.')),
    duration: Duration({
      field: 'rotation.windows[].duration',
      description: `How long the window stays open after each opening, as a Go duration (${MIN_WINDOW_DURATION} to ${MAX_TICKET_LIFETIME}).`,
      min: MIN_WINDOW_DURATION,
      max: MAX_TICKET_LIFETIME,
    }),
  },
  { description: 'A maintenance window: opens at each fire time of schedule and stays open for duration.' },
);

export const RotationSchema = Type.Object(
  {
    interval: Type.Optional(
      Duration({
        field: 'rotation.interval',
        description:
          `How often a new key is generated and promoted, as a Go duration (e.g. 12h, 30m, 90s). ` +
          `At least ${MIN_ROTATION_INTERVAL}. Mutually exclusive with schedule; when neither is set, ${DEFAULT_ROTATION_INTERVAL}.`,
        min: MIN_ROTATION_INTERVAL,
      }),
    ),
    schedule: Type.Optional(
      CronExpression(
        'rotation.schedule',
        'Calendar schedule of rotations instead of an interval: a 5-field cron expression (minute hour day-of-month ' +
          `month day-of-week, e.g. "0 3 * * *") or one of ${SCHEDULE_MACROS.join(', ')}, read in timeZone. Mutually ` +
          'exclusive with interval. Missed slots (operator down, suspended) cause at most one catch-up rotation. DST: a ' +
          'time that does not exist that day (spring forward) rotates at the first valid time after the gap; a time that ' +
          'occurs twice (fall back) rotates once, at its first occurrence; schedules with * or a step in the minute or ' +
          'hour field follow real time (both occurrences of a repeated hour, none in a gap).',
      ),
    ),
    timeZone: Type.Optional(TimeZone('rotation.timeZone', 'IANA time zone of schedule and of windows without their own. Unset means UTC.')),
    windows: Type.Optional(
      Type.Array(RotationWindowSchema, {
        description:
          'Maintenance windows (at most 8) that gate scheduled rotations: a slot that falls outside every window waits ' +
          'for the next opening. The rotate-now and revoke annotations ignore windows.',
        maxItems: MAX_WINDOWS,
      }),
    ),
    startingDeadline: Type.Optional(
      Duration({
        field: 'rotation.startingDeadline',
        description:
          'A scheduled rotation that could not start within this long of its slot (or of the window opening it waited ' +
          'for) is skipped, and the next slot is waited for (as CronJob startingDeadlineSeconds). Unset: a missed slot ' +
          `always gets its one catch-up rotation. At least ${MIN_STARTING_DEADLINE}.`,
        min: MIN_STARTING_DEADLINE,
      }),
    ),
    suspend: Type.Optional(
      Type.Boolean({
        description:
          'Stops scheduled and requested rotations while true. Keys already pushed stay in use, newcomers still get the ' +
          'current ring, and the revoke annotation still acts; a rotate-now value set meanwhile rotates once on resume. Default false.',
        default: DEFAULT_SUSPEND,
      }),
    ),
  },
  {
    description: 'When keys rotate: every interval, or on a calendar schedule.',
    // The interval default lives here, not on the field, so a schedule never meets a defaulted interval.
    default: { interval: DEFAULT_ROTATION_INTERVAL },
    [CEL_KEY]: [
      {
        rule: '!(has(self.interval) && has(self.schedule))',
        message: `rotation.interval and rotation.schedule are mutually exclusive: set exactly one of them (neither means interval ${DEFAULT_ROTATION_INTERVAL})`,
      },
      {
        rule: 'has(self.schedule) || !(has(self.timeZone) || has(self.windows) || has(self.startingDeadline))',
        message: 'rotation.timeZone, rotation.windows and rotation.startingDeadline apply to rotation.schedule only: set rotation.schedule or remove them',
      },
    ],
  },
);

export const PromotionSchema = Type.Object(
  {
    policy: Type.Optional(
      StringEnum(PROMOTION_POLICIES, {
        description:
          'AllPodsAcknowledged (default): a new key is first staged (decrypt-only) on every pod and becomes the ' +
          'encrypting key only after every Ready selected pod acknowledged it, so no resumption fails during ' +
          'rotation. Immediate: the new key encrypts at once on each pod as it arrives (what other systems do; ' +
          'kept as a measurable baseline).',
        default: DEFAULT_PROMOTION_POLICY,
      }),
    ),
    timeout: Type.Optional(
      Duration({
        field: 'promotion.timeout',
        description:
          'How long a staged key may wait for acknowledgements before the rotation is reported Degraded ' +
          `(the staged key is kept and pushes are retried with backoff). Go duration; default ${DEFAULT_PROMOTION_TIMEOUT}; ` +
          'must be shorter than rotation.interval.',
        default: DEFAULT_PROMOTION_TIMEOUT,
        min: MIN_PROMOTION_TIMEOUT,
      }),
    ),
  },
  { description: 'How a staged key becomes the encrypting (active) key.', default: {} },
);

export const AvailabilitySchema = Type.Object(
  {
    maxUnavailable: Type.Optional(
      IntOrPercent({
        field: 'availability.maxUnavailable',
        description:
          'How many selected pods may be unavailable (not Ready, for any reason) when the operator would take one more ' +
          'out of service through the ticketkeys.dev/keys-installed readiness gate: a count or a percentage of the ' +
          'selected pods, rounded down. The operator only ever takes out a serving pod whose agent answered and showed ' +
          'a ring the other pods cannot decrypt (ATS lost its keys, or it reports a generation the operator never issued); ' +
          'an unreachable or slow agent never takes its pod out of service (promotion waits for it instead). At the bound ' +
          'such pods stay in service and Degraded says so. Pods that never held the ring (newcomers) stay out until they ' +
          `do, whatever the bound. Default ${DEFAULT_MAX_UNAVAILABLE}; 0 means never.`,
        default: DEFAULT_MAX_UNAVAILABLE,
      }),
    ),
  },
  { description: 'Bounds on what the operator may do to the availability of the selected pods.', default: {} },
);

export const AgentSchema = Type.Object(
  {
    port: Type.Optional(
      Type.Integer({
        description: `TCP port of the ticket-key agent's HTTPS API (mutual TLS) in each selected pod. Default ${DEFAULT_AGENT_PORT}.`,
        format: 'int32',
        minimum: 1,
        maximum: 65535,
        default: DEFAULT_AGENT_PORT,
      }),
    ),
  },
  { description: 'How the operator reaches the agent sidecar in each selected pod.', default: {} },
);

export const AtsConfigSchema = Type.Object(
  {
    configMapRef: Type.Optional(
      Type.Object(
        {
          name: Type.String({
            description: 'Name of the ConfigMap, in the namespace of the TicketKeySet.',
            minLength: 1,
            maxLength: 253,
          }),
        },
        {
          description:
            'The ConfigMap holding the ATS configuration the selected pods mount (records.config, records.yaml, ' +
            'ssl_multicert.config, sni.yaml). The operator reads it on each reconcile and after each change, and reports in the ' +
            'ConfigConsistent condition whether ATS reloads of it can replace or bypass the pushed keys; it never writes to it.',
        },
      ),
    ),
  },
  { description: 'Optional reference to the ATS configuration of the selected pods.' },
);

export const FileFallbackSchema = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({
        description:
          'The operator keeps ticket.key in the owned Secret equal to the ring it pushes, written before each push. Mount that ' +
          'Secret key at an absolute path and name it in proxy.config.ssl.server.ticket_key.filename: a reload that re-reads the ' +
          'file then loads only a ring every pod can decrypt with. The ConfigConsistent check accepts an absolute key file only ' +
          'when this is true.',
        default: false,
      }),
    ),
    propagationDelay: Type.Optional(
      Duration({
        field: 'fileFallback.propagationDelay',
        description:
          'With enabled: a staged key is promoted no earlier than this after it was written to the Secret, so a pod whose ' +
          'mounted ticket.key is still the previous version (kubelet brings a Secret change into volumes after its sync period ' +
          `plus cache TTL, 60–120 s by default) loads a ring that already decrypts the new key. Default ${DEFAULT_FILE_PROPAGATION_DELAY}; ` +
          'must be shorter than rotation.interval.',
        default: DEFAULT_FILE_PROPAGATION_DELAY,
        max: MAX_FILE_PROPAGATION_DELAY,
      }),
    ),
  },
  { description: 'For ATS configurations that must keep a ticket key file.', default: {} },
);

export const SessionSharingSchema = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({
        description:
          'Share new TLS sessions between the selected pods: each pod\'s agent sends the sessions its ATS creates to the ' +
          'agents of the other pods (mutual TLS, peers named by the operator), which insert them into their ATS session ' +
          'cache, so a client resuming by session ID on another replica skips the full handshake. Trade-offs: session ' +
          'secrets (the master secret of each session) leave the ATS process and cross the pod network; every new session ' +
          'costs one message to each other pod (bandwidth and CPU grow with pods x new sessions); it helps only TLS 1.2 ' +
          'session-ID resumption (TLS 1.3 and clients with tickets resume with the shared ticket keys and do not need it). ' +
          'Needs ATS proxy.config.ssl.session_cache 2 and identical ssl_multicert.config lines on every pod (the session-ID ' +
          `context is the certificate name). Default ${String(DEFAULT_SESSION_SHARING_ENABLED)}.`,
        default: DEFAULT_SESSION_SHARING_ENABLED,
      }),
    ),
    maxEntries: Type.Optional(
      Type.Integer({
        description:
          'Sessions each agent keeps waiting to be sent and remembers as recently seen (to drop duplicates); beyond it the ' +
          'oldest are dropped and counted. Bounds the agent\'s memory (a few hundred bytes per session). ' +
          `1 to ${MAX_SESSION_SHARING_MAX_ENTRIES}; default ${DEFAULT_SESSION_SHARING_MAX_ENTRIES}.`,
        format: 'int32',
        minimum: 1,
        maximum: MAX_SESSION_SHARING_MAX_ENTRIES,
        default: DEFAULT_SESSION_SHARING_MAX_ENTRIES,
      }),
    ),
    ttl: Type.Optional(
      Duration({
        field: 'sessionCache.sharing.ttl',
        description:
          'How long a shared session stays usable on the pods it was sent to, counted from its creation (Go duration); ' +
          'older sessions are neither sent nor inserted. Must not exceed ATS\'s proxy.config.ssl.session_cache.timeout ' +
          '(a shared session would outlive the local ones). Shorter means a smaller window for a stolen session and ' +
          `fewer resumptions. ${MIN_SESSION_SHARING_TTL} to ${MAX_SESSION_SHARING_TTL}; default ${DEFAULT_SESSION_SHARING_TTL}.`,
        default: DEFAULT_SESSION_SHARING_TTL,
        min: MIN_SESSION_SHARING_TTL,
        max: MAX_SESSION_SHARING_TTL,
      }),
    ),
    batchInterval: Type.Optional(
      Duration({
        field: 'sessionCache.sharing.batchInterval',
        description:
          'How often, at most, each agent collects the sessions its ATS created and sends them to the other pods (Go ' +
          'duration). Under load it is most of the propagation delay (a session waits up to one interval before it leaves ' +
          'its pod); much of the agents\' CPU is per batch rather than per session, so a longer interval costs less CPU at ' +
          'the same handshake rate. An idle pod\'s first session leaves at once. Other values than the default need agents ' +
          `that know this field. ${MIN_SESSION_SHARING_BATCH_INTERVAL} to ${MAX_SESSION_SHARING_BATCH_INTERVAL}; default ` +
          `${DEFAULT_SESSION_SHARING_BATCH_INTERVAL}.`,
        default: DEFAULT_SESSION_SHARING_BATCH_INTERVAL,
        min: MIN_SESSION_SHARING_BATCH_INTERVAL,
        max: MAX_SESSION_SHARING_BATCH_INTERVAL,
      }),
    ),
  },
  {
    description:
      'Share TLS sessions between the selected pods (session-ID resumption across replicas). Off by default; see enabled ' +
      'for the trade-offs. A revoke flushes every pod\'s cache and no session created before it is accepted afterwards.',
    default: {},
  },
);

export const SessionCacheSchema = Type.Object(
  {
    flushOnRevoke: Type.Optional(
      Type.Boolean({
        description:
          "Also flush ATS's TLS session cache on every selected pod when keys are revoked, so no session " +
          'established under the revoked keys can resume by session id either. Default true.',
        default: DEFAULT_FLUSH_ON_REVOKE,
      }),
    ),
    sharing: Type.Optional(SessionSharingSchema),
  },
  { description: "What the operator does with ATS's TLS session cache.", default: {} },
);

const bothDurations = (a: string, b: string) => `${celIsDuration(a)} && ${celIsDuration(b)}`;

/** Cross-field rules; single-field bounds live on the fields themselves. */
export const SPEC_RULES: CelRule[] = [
  {
    rule:
      '!has(self.promotion) || !has(self.promotion.timeout) || !has(self.rotation) || !has(self.rotation.interval) || ' +
      `!(${bothDurations('self.promotion.timeout', 'self.rotation.interval')}) || ` +
      'duration(self.promotion.timeout) < duration(self.rotation.interval)',
    message: 'promotion.timeout must be shorter than rotation.interval',
    // The values matter here: the timeout may be the 5m default the user never wrote.
    messageExpression:
      "'promotion.timeout must be shorter than rotation.interval (promotion.timeout is ' + self.promotion.timeout + ', rotation.interval is ' + self.rotation.interval + ')'",
    fieldPath: '.promotion.timeout',
  },
  {
    rule:
      'has(self.ticketLifetime) || !has(self.rotation) || !has(self.rotation.interval) || ' +
      `!${celIsDuration('self.rotation.interval')} || duration(self.rotation.interval) <= duration('${MAX_TICKET_LIFETIME}')`,
    message:
      `ticketLifetime defaults to rotation.interval and must be at most ${MAX_TICKET_LIFETIME}: ` +
      `set ticketLifetime (at most ${MAX_TICKET_LIFETIME}) when rotation.interval is longer`,
    fieldPath: '.rotation.interval',
  },
  {
    // Immediate puts a new key into use as it arrives: a pod loading the previous file would lack it.
    rule: "!has(self.fileFallback) || !has(self.fileFallback.enabled) || !self.fileFallback.enabled || !has(self.promotion) || !has(self.promotion.policy) || self.promotion.policy != 'Immediate'",
    message: 'fileFallback needs promotion.policy AllPodsAcknowledged: with Immediate a new key encrypts before the mounted ticket.key can hold it',
    fieldPath: '.fileFallback.enabled',
  },
  {
    rule:
      '!has(self.fileFallback) || !has(self.fileFallback.enabled) || !self.fileFallback.enabled || !has(self.fileFallback.propagationDelay) || ' +
      '!has(self.rotation) || !has(self.rotation.interval) || ' +
      `!(${bothDurations('self.fileFallback.propagationDelay', 'self.rotation.interval')}) || ` +
      'duration(self.fileFallback.propagationDelay) < duration(self.rotation.interval)',
    message: 'fileFallback.propagationDelay must be shorter than rotation.interval',
    fieldPath: '.fileFallback.propagationDelay',
  },
];

export const TicketKeySetSpecSchema = Type.Object(
  {
    selector: LabelSelectorSchema,
    rotation: Type.Optional(RotationSchema),
    ticketLifetime: Type.Optional(
      Duration({
        field: 'ticketLifetime',
        description:
          'How long a client may resume a session with a ticket (Go duration). Unset means equal to ' +
          'rotation.interval, or with rotation.schedule to the longest gap between scheduled rotations (slots, as windows ' +
          `delay them) over the next year, capped at ${MAX_TICKET_LIFETIME}. At most ${MAX_TICKET_LIFETIME} (7 days, RFC 8446). A retired key is kept, ` +
          'decrypt-only, for at least ticketLifetime plus promotion.timeout, then destroyed.',
        min: MIN_TICKET_LIFETIME,
        max: MAX_TICKET_LIFETIME,
        maxReason: ' (7 days, RFC 8446)',
      }),
    ),
    promotion: Type.Optional(PromotionSchema),
    availability: Type.Optional(AvailabilitySchema),
    agent: Type.Optional(AgentSchema),
    atsConfig: Type.Optional(AtsConfigSchema),
    fileFallback: Type.Optional(FileFallbackSchema),
    sessionCache: Type.Optional(SessionCacheSchema),
  },
  {
    description:
      'Desired policy for the TLS session-ticket keys of the selected ATS pods. Holds no key material: ' +
      'keys live only in the operator-owned Secret <name>-ticket-keys and in the proxies\' memory.',
    [CEL_KEY]: SPEC_RULES,
  },
);

/** The spec as a user may write it: fields with defaults are optional. */
export type TicketKeySetSpec = Static<typeof TicketKeySetSpecSchema>;
