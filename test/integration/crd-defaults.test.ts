// What the API server itself does to a TicketKeySet on the way in: schema defaults fill a
// minimal object, and fields the schema does not know are pruned (or refused when asked).
import { describe, expect, it } from '@jest/globals';
import { statusMessage, statusOf, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const ns = useNamespace('crd-defaults');
const tks = new TicketKeySets(testKubeConfig(), ns.name);

describe('TicketKeySet defaults', () => {
  it('fills every defaulted field of a minimal TicketKeySet', async () => {
    const created = await tks.create(ticketKeySet('minimal', { selector: { matchLabels: { app: 'ats' } } }));
    expect(created.spec).toEqual({
      selector: { matchLabels: { app: 'ats' } },
      rotation: { interval: '12h', suspend: false },
      promotion: { policy: 'AllPodsAcknowledged', timeout: '5m' },
      availability: { maxUnavailable: 1 },
      agent: { port: 9443 },
      sessionCache: { flushOnRevoke: true, sharing: { enabled: false, maxEntries: 10000, ttl: '5m', batchInterval: '40ms' } },
      fileFallback: { enabled: false, propagationDelay: '3m' },
    });
    // ticketLifetime has no default of its own: unset means "equal to rotation.interval".
    expect(created.spec.ticketLifetime).toBeUndefined();
    // Defaults are persisted, not only applied to the create response.
    expect((await tks.get('minimal')).spec).toEqual(created.spec);
  });

  it('keeps values that are set and defaults only the missing siblings', async () => {
    const created = await tks.create(
      ticketKeySet('partial', {
        selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['ats'] }] },
        rotation: { interval: '1h' },
        promotion: { policy: 'Immediate' },
        ticketLifetime: '2h',
      }),
    );
    expect(created.spec.rotation).toEqual({ interval: '1h', suspend: false });
    expect(created.spec.promotion).toEqual({ policy: 'Immediate', timeout: '5m' });
    expect(created.spec.ticketLifetime).toBe('2h');
  });
});

describe('TicketKeySet unknown fields', () => {
  it('prunes unknown fields at every level', async () => {
    const created = await tks.create(
      ticketKeySet(
        'pruned',
        {
          selector: { matchLabels: { app: 'ats' }, matchFields: { x: 'y' } },
          rotation: { interval: '1h', jitter: '5m' },
          keys: ['c2VjcmV0'],
        },
        { extraTopLevel: true },
      ),
    );
    const stored = (await tks.get('pruned')) as unknown as Record<string, Record<string, unknown>>;
    expect(stored.extraTopLevel).toBeUndefined();
    expect(stored.spec?.keys).toBeUndefined();
    expect(stored.spec?.selector).toEqual({ matchLabels: { app: 'ats' } });
    expect(stored.spec?.rotation).toEqual({ interval: '1h', suspend: false });
    expect(created.metadata.name).toBe('pruned');
  });

  it('refuses unknown fields with a message naming them when the client asks for strict validation', async () => {
    const err = await tks
      .create(ticketKeySet('strict', { selector: { matchLabels: { app: 'ats' } }, rotation: { interval: '1h', jitter: '5m' } }), 'Strict')
      .catch((e: unknown) => e);
    expect(statusOf(err)).toBe(400);
    expect(statusMessage(err)).toContain('unknown field "spec.rotation.jitter"');
  });
});
