// Invalid TicketKeySets are refused by the real API server (OpenAPI schema and CEL rules of the
// CRD) with messages a user can act on: the field path and what is wrong with it.
import { describe, expect, it } from '@jest/globals';
import { statusMessage, statusOf, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';
import type { TicketKeySetBody } from '../../dev/ticket-key-sets.ts';

const ns = useNamespace('crd-validation');
const tks = new TicketKeySets(testKubeConfig(), ns.name);

const selector = { matchLabels: { app: 'ats' } };

interface InvalidCase {
  title: string;
  body: (name: string) => TicketKeySetBody;
  /** Every fragment must appear in the API server's message. */
  message: string[];
}

const spec = (fields: Record<string, unknown>) => (name: string) => ticketKeySet(name, { selector, ...fields });

const cases: InvalidCase[] = [
  ...[-1, '150%', 'two'].map((maxUnavailable) => ({
    title: `availability.maxUnavailable ${JSON.stringify(maxUnavailable)}`,
    body: spec({ availability: { maxUnavailable } }),
    message: ['spec.availability.maxUnavailable', 'availability.maxUnavailable must be a non-negative integer or a percentage from 0% to 100%'],
  })),
  {
    title: 'rotation interval below the 10s minimum',
    body: spec({ rotation: { interval: '5s' } }),
    message: ['spec.rotation.interval', 'rotation.interval must be at least 10s'],
  },
  {
    title: 'ticketLifetime over 7 days',
    body: spec({ ticketLifetime: '169h' }),
    message: ['spec.ticketLifetime', 'ticketLifetime must be at most 168h'],
  },
  {
    title: 'rotation interval over 7 days with ticketLifetime defaulting to it',
    body: spec({ rotation: { interval: '200h' } }),
    message: ['spec.rotation.interval', 'ticketLifetime defaults to rotation.interval and must be at most 168h'],
  },
  {
    title: 'promotion timeout equal to the interval',
    body: spec({ rotation: { interval: '1m' }, promotion: { timeout: '1m' } }),
    message: ['spec.promotion.timeout', 'promotion.timeout must be shorter than rotation.interval'],
  },
  {
    title: 'promotion timeout (default 5m) longer than the interval',
    body: spec({ rotation: { interval: '1m' } }),
    message: ['spec.promotion.timeout', 'promotion.timeout must be shorter than rotation.interval'],
  },
  {
    title: 'empty selector',
    body: (name) => ticketKeySet(name, { selector: {} }),
    message: ['spec.selector', 'selector must not be empty'],
  },
  {
    title: 'selector with empty matchLabels',
    body: (name) => ticketKeySet(name, { selector: { matchLabels: {} } }),
    message: ['spec.selector', 'selector must not be empty'],
  },
  {
    title: 'missing selector',
    body: (name) => ticketKeySet(name, { rotation: { interval: '1h' } }),
    message: ['spec.selector', 'Required value'],
  },
  {
    title: 'missing spec',
    body: (name) => ticketKeySet(name, undefined),
    message: ['spec', 'Required value'],
  },
  {
    title: 'interval given as a number',
    body: spec({ rotation: { interval: 3600 } }),
    message: ['spec.rotation.interval', 'must be of type string'],
  },
  {
    title: 'interval that is not a duration',
    body: spec({ rotation: { interval: '12 hours' } }),
    message: ['spec.rotation.interval', 'should match'],
  },
  {
    title: 'suspend given as a string',
    body: spec({ rotation: { interval: '1h', suspend: 'yes' } }),
    message: ['spec.rotation.suspend', 'must be of type boolean'],
  },
  {
    title: 'unknown promotion policy',
    body: spec({ promotion: { policy: 'Sometimes' } }),
    message: ['spec.promotion.policy', 'Unsupported value: "Sometimes"', '"AllPodsAcknowledged", "Immediate"'],
  },
  {
    title: 'negative agent port',
    body: spec({ agent: { port: -1 } }),
    message: ['spec.agent.port', 'should be greater than or equal to 1'],
  },
  {
    title: 'agent port above 65535',
    body: spec({ agent: { port: 70000 } }),
    message: ['spec.agent.port', 'should be less than or equal to 65535'],
  },
  {
    title: 'agent port given as a string',
    body: spec({ agent: { port: '9443' } }),
    message: ['spec.agent.port', 'must be of type integer'],
  },
  {
    title: 'In requirement without values',
    body: (name) => ticketKeySet(name, { selector: { matchExpressions: [{ key: 'app', operator: 'In' }] } }),
    message: ['spec.selector.matchExpressions[0].values', 'values must be non-empty for operators In and NotIn'],
  },
  {
    title: 'unknown selector operator',
    body: (name) => ticketKeySet(name, { selector: { matchExpressions: [{ key: 'app', operator: 'Like', values: ['ats'] }] } }),
    message: ['spec.selector.matchExpressions[0].operator', 'Unsupported value: "Like"'],
  },
  {
    title: 'empty ConfigMap name in atsConfig',
    body: spec({ atsConfig: { configMapRef: { name: '' } } }),
    message: ['spec.atsConfig.configMapRef.name', 'at least 1 chars long'],
  },
  {
    title: 'file fallback with Immediate promotion',
    body: spec({ fileFallback: { enabled: true }, promotion: { policy: 'Immediate' } }),
    message: ['spec.fileFallback.enabled', 'fileFallback needs promotion.policy AllPodsAcknowledged'],
  },
  {
    title: 'file fallback propagation delay not shorter than the interval',
    body: spec({ fileFallback: { enabled: true, propagationDelay: '5m' }, rotation: { interval: '5m' }, promotion: { timeout: '1m' } }),
    message: ['spec.fileFallback.propagationDelay', 'fileFallback.propagationDelay must be shorter than rotation.interval'],
  },
  {
    title: 'session sharing ttl below 1s',
    body: spec({ sessionCache: { sharing: { enabled: true, ttl: '500ms' } } }),
    message: ['spec.sessionCache.sharing.ttl', 'sessionCache.sharing.ttl must be at least 1s'],
  },
  {
    title: 'session sharing ttl over 24h',
    body: spec({ sessionCache: { sharing: { enabled: true, ttl: '25h' } } }),
    message: ['spec.sessionCache.sharing.ttl', 'sessionCache.sharing.ttl must be at most 24h'],
  },
  {
    title: 'session sharing ttl that is not a duration',
    body: spec({ sessionCache: { sharing: { ttl: '1d' } } }),
    message: ['spec.sessionCache.sharing.ttl', 'should match'],
  },
  {
    title: 'session sharing batch interval below 10ms',
    body: spec({ sessionCache: { sharing: { enabled: true, batchInterval: '5ms' } } }),
    message: ['spec.sessionCache.sharing.batchInterval', 'sessionCache.sharing.batchInterval must be at least 10ms'],
  },
  {
    title: 'session sharing batch interval over 1s',
    body: spec({ sessionCache: { sharing: { enabled: true, batchInterval: '1500ms' } } }),
    message: ['spec.sessionCache.sharing.batchInterval', 'sessionCache.sharing.batchInterval must be at most 1s'],
  },
  {
    title: 'session sharing batch interval that is not a duration',
    body: spec({ sessionCache: { sharing: { batchInterval: '40' } } }),
    message: ['spec.sessionCache.sharing.batchInterval', 'should match'],
  },
  ...[0, 1_000_001].map((maxEntries) => ({
    title: `session sharing maxEntries ${maxEntries}`,
    body: spec({ sessionCache: { sharing: { maxEntries } } }),
    message: ['spec.sessionCache.sharing.maxEntries', maxEntries === 0 ? 'should be greater than or equal to 1' : 'should be less than or equal to 1000000'],
  })),
  {
    title: 'name longer than a label value',
    body: () => ticketKeySet(`a${'b'.repeat(63)}`, { selector }),
    message: ['metadata.name must be at most 63 characters'],
  },
];

describe('invalid TicketKeySets', () => {
  it('covers at least 12 distinct mistakes', () => {
    expect(cases.length).toBeGreaterThanOrEqual(12);
  });

  it.each(cases.map((c, i) => [c.title, c, i] as const))('refuses %s with a readable message', async (_title, c, i) => {
    const err = await tks.create(c.body(`invalid-${i}`)).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(422);
    const message = statusMessage(err);
    for (const fragment of c.message) expect(message).toContain(fragment);
    // Nothing half-valid was stored.
    expect((await tks.list()).items.map((t) => t.metadata.name)).not.toContain(`invalid-${i}`);
  });

  it('names every problem of an object that has several', async () => {
    const err = await tks.create(ticketKeySet('invalid-many', { selector: {}, rotation: { interval: '5s' }, agent: { port: 0 } })).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(422);
    const message = statusMessage(err);
    expect(message).toContain('selector must not be empty');
    expect(message).toContain('rotation.interval must be at least 10s');
    expect(message).toContain('spec.agent.port');
  });

  it('refuses an update that makes a valid TicketKeySet invalid and keeps the stored spec', async () => {
    await tks.create(ticketKeySet('valid-then-invalid', { selector, rotation: { interval: '1h' } }));
    const err = await tks.mergePatch('valid-then-invalid', { spec: { rotation: { interval: '1s' } } }).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(422);
    expect(statusMessage(err)).toContain('rotation.interval must be at least 10s');
    expect((await tks.get('valid-then-invalid')).spec.rotation?.interval).toBe('1h');
  });
});
