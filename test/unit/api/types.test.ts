// The TypeScript types come from the same TypeBox schema as the CRD: typed examples compile
// (`npm run typecheck`), wrong shapes do not, and values that type-check also validate.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { Value } from '@sinclair/typebox/value';
import { parse } from 'yaml';
import {
  API_VERSION,
  KIND,
  TicketKeySetSchema,
  TicketKeySetSpecSchema,
  TicketKeySetStatusSchema,
  effectiveTicketLifetime,
  withSpecDefaults,
} from '../../../src/api/index.ts';
import type {
  DefaultedTicketKeySetSpec,
  TicketKeySet,
  TicketKeySetSpec,
  TicketKeySetStatus,
} from '../../../src/api/index.ts';

const spec: TicketKeySetSpec = {
  selector: { matchLabels: { app: 'ats' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['edge'] }] },
  rotation: { interval: '6h', suspend: false },
  ticketLifetime: '12h',
  promotion: { policy: 'Immediate', timeout: '2m' },
  agent: { port: 9443 },
  atsConfig: { configMapRef: { name: 'ats-config' } },
  sessionCache: { flushOnRevoke: false },
};

const status: TicketKeySetStatus = {
  observedGeneration: 2,
  conditions: [{ type: 'Ready', status: 'True', reason: 'AllPodsConverged', message: '3/3 pods hold generation 7', lastTransitionTime: '2026-11-25T10:00:00Z', observedGeneration: 2 }],
  keyGeneration: 7,
  phase: 'Stable',
  activeKey: { fingerprint: '0123456789abcdef', createdAt: '2026-11-25T09:55:00Z', promotedAt: '2026-11-25T10:00:00Z' },
  retiredKeys: [
    { fingerprint: 'fedcba9876543210', createdAt: '2026-11-25T03:55:00Z', promotedAt: '2026-11-25T04:00:00Z', retiredAt: '2026-11-25T10:00:00Z', expiresAt: '2026-11-25T22:02:00Z' },
  ],
  lastRotationTime: '2026-11-25T10:00:00Z',
  nextRotationTime: '2026-11-25T16:00:00Z',
  pods: { total: 3, converged: 3, summary: '3/3', items: [{ name: 'ats-0', generation: 7, ringFingerprint: '00000000000000aa', lastAckTime: '2026-11-25T10:00:01Z' }] },
  secretName: 'edge-ticket-keys',
};

const object: TicketKeySet = { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'edge', namespace: 'default' }, spec, status };

// Compile-time only: each of these must be a type error (checked by `npm run typecheck`).
// @ts-expect-error selector is required
const _noSelector: TicketKeySetSpec = { rotation: { interval: '1h' } };
// @ts-expect-error the policy is an enum
const _badPolicy: TicketKeySetSpec = { selector: {}, promotion: { policy: 'Sometimes' } };
// @ts-expect-error the port is a number
const _badPort: TicketKeySetSpec = { selector: {}, agent: { port: '9443' } };
// @ts-expect-error the phase is an enum
const _badPhase: TicketKeySetStatus = { phase: 'Rotating' };
// @ts-expect-error selector operators are an enum
const _badOperator: TicketKeySetSpec = { selector: { matchExpressions: [{ key: 'a', operator: 'Like' }] } };

describe('TicketKeySet types', () => {
  it('accept a full object that the schema also accepts', () => {
    expect(Value.Errors(TicketKeySetSchema, object).First()).toBeUndefined();
    expect(Value.Check(TicketKeySetSpecSchema, spec)).toBe(true);
    expect(Value.Check(TicketKeySetStatusSchema, status)).toBe(true);
  });

  it('accept session sharing within its bounds and reject it outside them', () => {
    const sharing = (v: object) => ({ ...spec, sessionCache: { flushOnRevoke: true, sharing: v } });
    expect(Value.Check(TicketKeySetSpecSchema, sharing({ enabled: true, maxEntries: 1, ttl: '1s' }))).toBe(true);
    expect(Value.Check(TicketKeySetSpecSchema, sharing({ enabled: true, maxEntries: 1_000_000, ttl: '24h' }))).toBe(true);
    for (const bad of [{ maxEntries: 0 }, { maxEntries: 1_000_001 }, { maxEntries: 1.5 }, { ttl: '5 minutes' }, { ttl: '1d' }, { enabled: 'yes' }]) {
      expect(Value.Check(TicketKeySetSpecSchema, sharing(bad))).toBe(false);
    }
    expect(Value.Check(TicketKeySetStatusSchema, { pods: { sessionSharing: { podsReporting: 1, exported: 1, sent: 1, received: 1, inserted: 1, dropped: 0, refused: -1 } } })).toBe(false);
  });

  it('reject, at run time too, what the schema forbids', () => {
    expect(Value.Check(TicketKeySetSpecSchema, { ...spec, agent: { port: 0 } })).toBe(false);
    expect(Value.Check(TicketKeySetSpecSchema, { ...spec, rotation: { interval: '12 hours' } })).toBe(false);
    expect(Value.Check(TicketKeySetStatusSchema, { activeKey: { fingerprint: 'KEYBYTES', createdAt: '2026-11-25T10:00:00Z' } })).toBe(false);
  });

  it.each(['examples/ticketkeyset-minimal.yaml', 'examples/ticketkeyset-full.yaml'])('validate the example %s', (file) => {
    const example = parse(readFileSync(file, 'utf8')) as TicketKeySet;
    expect(example.apiVersion).toBe(API_VERSION);
    expect(example.kind).toBe(KIND);
    expect(Value.Errors(TicketKeySetSchema, example).First()).toBeUndefined();
  });

  it('the full example sets every spec field (so it stays a complete reference)', () => {
    const example = parse(readFileSync('examples/ticketkeyset-full.yaml', 'utf8')) as TicketKeySet;
    const set = (o: object, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) && k !== 'matchLabels' ? set(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
    expect(set(example.spec).sort()).toEqual(
      [
        'agent.port', 'atsConfig.configMapRef.name', 'promotion.policy', 'promotion.timeout', 'rotation.interval', 'rotation.suspend',
        'selector.matchExpressions', 'selector.matchLabels', 'sessionCache.flushOnRevoke',
        'sessionCache.sharing.batchInterval', 'sessionCache.sharing.enabled', 'sessionCache.sharing.maxEntries', 'sessionCache.sharing.ttl',
        'ticketLifetime',
      ].sort(),
    );
  });
});

describe('withSpecDefaults', () => {
  it('fills in every schema default on a minimal spec, as the API server does', () => {
    const defaulted: DefaultedTicketKeySetSpec = withSpecDefaults({ selector: { matchLabels: { app: 'ats' } } });
    expect(defaulted).toEqual({
      selector: { matchLabels: { app: 'ats' } },
      rotation: { interval: '12h', suspend: false },
      promotion: { policy: 'AllPodsAcknowledged', timeout: '5m' },
      availability: { maxUnavailable: 1 },
      agent: { port: 9443 },
      fileFallback: { enabled: false, propagationDelay: '3m' },
      sessionCache: { flushOnRevoke: true, sharing: { enabled: false, maxEntries: 10_000, ttl: '5m', batchInterval: '40ms' } },
    });
  });

  it('fills in missing fields of a partly written object and keeps what is set', () => {
    const input: TicketKeySetSpec = { selector: { matchLabels: { app: 'ats' } }, rotation: { interval: '1h' }, promotion: { policy: 'Immediate' } };
    const defaulted = withSpecDefaults(input);
    expect(defaulted.rotation).toEqual({ interval: '1h', suspend: false });
    expect(defaulted.promotion).toEqual({ policy: 'Immediate', timeout: '5m' });
    expect(input.rotation).toEqual({ interval: '1h' }); // input untouched
  });

  it('leaves ticketLifetime unset, which means equal to the rotation interval', () => {
    const defaulted = withSpecDefaults({ selector: { matchLabels: { app: 'ats' } }, rotation: { interval: '3h' } });
    expect(defaulted.ticketLifetime).toBeUndefined();
    expect(effectiveTicketLifetime(defaulted)).toBe('3h');
    expect(effectiveTicketLifetime(withSpecDefaults({ ...defaulted, ticketLifetime: '30m' }))).toBe('30m');
  });
});
