// TicketKeySet spec: policy only, never key bytes. The TypeBox schema is the one source of both
// the CRD's OpenAPI schema and the TypeScript type.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import {
  DEFAULT_AGENT_PORT,
  DEFAULT_FLUSH_ON_REVOKE,
  DEFAULT_MAX_UNAVAILABLE,
  DEFAULT_PROMOTION_POLICY,
  DEFAULT_PROMOTION_TIMEOUT,
  DEFAULT_ROTATION_INTERVAL,
  DEFAULT_SUSPEND,
  MAX_TICKET_LIFETIME,
  MIN_PROMOTION_TIMEOUT,
  MIN_ROTATION_INTERVAL,
  MIN_TICKET_LIFETIME,
  PROMOTION_POLICIES,
} from './defaults.ts';
import { LabelSelectorSchema } from './label-selector.ts';
import { CEL_KEY, Duration, IntOrPercent, StringEnum, celIsDuration } from './schema-kit.ts';
import type { CelRule } from './schema-kit.ts';

export const RotationSchema = Type.Object(
  {
    interval: Type.Optional(
      Duration({
        field: 'rotation.interval',
        description:
          `How often a new key is generated and promoted, as a Go duration (e.g. 12h, 30m, 90s). ` +
          `Default ${DEFAULT_ROTATION_INTERVAL}; at least ${MIN_ROTATION_INTERVAL}.`,
        default: DEFAULT_ROTATION_INTERVAL,
        min: MIN_ROTATION_INTERVAL,
      }),
    ),
    suspend: Type.Optional(
      Type.Boolean({
        description:
          'Stops scheduled rotations while true. Keys already pushed stay in use, newcomers still get the ' +
          'current ring, and the rotate-now and revoke annotations still act. Default false.',
        default: DEFAULT_SUSPEND,
      }),
    ),
  },
  { description: 'When keys rotate.', default: {} },
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
  },
  { description: 'For ATS configurations that must keep a ticket key file.', default: {} },
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
          `rotation.interval. At most ${MAX_TICKET_LIFETIME} (7 days, RFC 8446). A retired key is kept, ` +
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
