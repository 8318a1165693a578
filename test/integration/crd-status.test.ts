// The status subresource of TicketKeySet: status is written only through /status (which
// ignores spec), and metadata.generation counts spec changes only, so observedGeneration can
// tell the operator which spec its status reflects.
import { describe, expect, it } from '@jest/globals';
import { statusOf, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const ns = useNamespace('crd-status');
const tks = new TicketKeySets(testKubeConfig(), ns.name);

const selector = { matchLabels: { app: 'ats' } };
const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');

function statusBody(observedGeneration: number) {
  return {
    observedGeneration,
    phase: 'Stable',
    keyGeneration: 4,
    activeKey: { fingerprint: '0123456789abcdef', createdAt: now, promotedAt: now },
    pods: { total: 3, converged: 3, summary: '3/3' },
    secretName: 'status-ticket-keys',
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now, reason: 'Converged', message: 'all 3 pods hold the current ring' }],
  };
}

describe('TicketKeySet status subresource', () => {
  it('accepts status written through /status and ignores the spec sent with it', async () => {
    const created = await tks.create(ticketKeySet('status', { selector, rotation: { interval: '1h' } }));
    const updated = await tks.replaceStatus({
      ...created,
      spec: { ...created.spec, rotation: { interval: '2h', suspend: true } },
      status: statusBody(1),
    });
    expect(updated.status).toEqual(statusBody(1));
    expect(updated.spec.rotation).toEqual({ interval: '1h', suspend: false });
    const stored = await tks.get('status');
    expect(stored.status).toEqual(statusBody(1));
    expect(stored.spec.rotation).toEqual({ interval: '1h', suspend: false });
  });

  it('ignores status written through the main resource', async () => {
    const created = await tks.create(ticketKeySet('status-main', { selector }));
    const replaced = await tks.replace({ ...created, metadata: { ...created.metadata, labels: { team: 'edge' } }, status: statusBody(1) });
    expect(replaced.metadata.labels).toEqual({ team: 'edge' });
    expect(replaced.status).toBeUndefined();
    expect((await tks.get('status-main')).status).toBeUndefined();
  });

  it('validates status too', async () => {
    const created = await tks.create(ticketKeySet('status-invalid', { selector }));
    const err = await tks.replaceStatus({ ...created, status: { ...statusBody(1), phase: 'Exploded' } }).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(422);
  });

  it('bumps metadata.generation on spec changes only', async () => {
    const created = await tks.create(ticketKeySet('generation', { selector, rotation: { interval: '1h' } }));
    expect(created.metadata.generation).toBe(1);

    const labelled = await tks.mergePatch('generation', { metadata: { labels: { team: 'edge' }, annotations: { note: 'hello' } } });
    expect(labelled.metadata.generation).toBe(1);

    const withStatus = await tks.replaceStatus({ ...labelled, status: statusBody(1) });
    expect(withStatus.metadata.generation).toBe(1);

    const respecced = await tks.mergePatch('generation', { spec: { rotation: { interval: '2h' } } });
    expect(respecced.metadata.generation).toBe(2);
    // The status written for generation 1 stays, now visibly stale.
    expect(respecced.status?.observedGeneration).toBe(1);

    // An annotation that acts (rotate-now) is still metadata: no new generation.
    const rotateNow = await tks.mergePatch('generation', { metadata: { annotations: { 'ticketkeys.dev/rotate-now': now } } });
    expect(rotateNow.metadata.generation).toBe(2);

    // Sending the same spec again is no change.
    const same = await tks.mergePatch('generation', { spec: { rotation: { interval: '2h' } } });
    expect(same.metadata.generation).toBe(2);
  });

  it('refuses a status write based on a stale resourceVersion (optimistic concurrency)', async () => {
    const created = await tks.create(ticketKeySet('conflict', { selector }));
    await tks.replaceStatus({ ...created, status: statusBody(1) });
    const err = await tks.replaceStatus({ ...created, status: statusBody(1) }).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(409);
  });
});
