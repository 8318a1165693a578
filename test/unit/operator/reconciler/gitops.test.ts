// GitOps behaviour of one reconcile, I/O faked: Flux's reconcile.fluxcd.io/requestedAt is
// acknowledged verbatim in status.lastHandledReconcileAt and never rotates; the kstatus
// conditions (Reconciling, Stalled) derived from the reconcile's own conditions.
import { describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import type { Condition } from '../../../../src/core/index.ts';
import { withKstatusConditions } from '../../../../src/operator/reconciler/kstatus.ts';
import { aTicketKeySet, fixture } from './builders.ts';
import { fakePod } from './fakes.ts';

const REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

const tksObject = (annotations: Record<string, string> = {}): TicketKeySet => aTicketKeySet().annotations(annotations).build();

const setup = (initial = tksObject()) => fixture({ sets: [initial], pods: [fakePod('a', { ip: '10.0.0.1' })] });

const cond = (t: TicketKeySet, type: string) => t.status?.conditions?.find((c) => c.type === type);

describe('Flux reconcile.fluxcd.io/requestedAt', () => {
  it('acknowledges each new value verbatim, without a rotation, and writes nothing for a value already handled', async () => {
    const f = setup();
    await f.reconcile();
    const first = f.current().status!;
    expect(first.lastHandledReconcileAt).toBeUndefined();

    f.annotate({ [REQUESTED_AT]: '2026-12-06T01:00:00.123456789Z' });
    await f.reconcile();
    const acked = f.current().status!;
    expect(acked.lastHandledReconcileAt).toBe('2026-12-06T01:00:00.123456789Z');
    expect(acked.observedGeneration).toBe(1);
    expect(acked.keyGeneration).toBe(first.keyGeneration);
    expect(acked.activeKey?.fingerprint).toBe(first.activeKey?.fingerprint);
    expect(f.events.map((e) => e.reason)).toEqual(['KeyCreated']);

    // The same value again (a repeated sync): no status write at all.
    const writes = f.statusWrites.length;
    await f.reconcile();
    expect(f.statusWrites.length).toBe(writes);

    // The annotation removed from the object: the last acknowledged value stays.
    f.annotate({});
    await f.reconcile();
    expect(f.current().status!.lastHandledReconcileAt).toBe('2026-12-06T01:00:00.123456789Z');
    expect(f.statusWrites.length).toBe(writes);
  });

  it('does not acknowledge a value longer than the status field allows (the status write would be refused)', async () => {
    const f = setup(tksObject({ [REQUESTED_AT]: 'ok-1' }));
    await f.reconcile();
    f.annotate({ [REQUESTED_AT]: 'x'.repeat(257) });
    await f.reconcile();
    expect(f.current().status!.lastHandledReconcileAt).toBe('ok-1');
  });

  it('is acknowledged while the reconcile is blocked (Secret in an unknown format), with Stalled=True', async () => {
    const f = setup();
    await f.reconcile();
    f.secrets.stored!.data['ring.json'] = Buffer.from(JSON.stringify({ version: 99 }));
    f.annotate({ [REQUESTED_AT]: 'flux-1' });
    await f.reconcile();
    const t = f.current();
    expect(t.status!.lastHandledReconcileAt).toBe('flux-1');
    expect(cond(t, 'Stalled')).toMatchObject({ status: 'True', reason: 'SecretUnusable' });
    expect(cond(t, 'Reconciling')).toMatchObject({ status: 'False', reason: 'Stalled' });
    expect(cond(t, 'Degraded')).toMatchObject({ status: 'True', reason: 'SecretUnusable' });
    expect(f.statusWrites.at(-1)).toMatchObject({ observedGeneration: 1 });
  });

  it('a converged set reports Reconciling=False and Stalled=False, within the bound of 8 conditions', async () => {
    const f = setup();
    await f.reconcile();
    expect(cond(f.current(), 'Reconciling')).toMatchObject({ status: 'False', reason: 'Idle' });
    expect(cond(f.current(), 'Stalled')).toMatchObject({ status: 'False' });
    expect(f.current().status!.conditions!.length).toBeLessThanOrEqual(8);
  });
});

describe('withKstatusConditions', () => {
  const ready = (status: 'True' | 'False', reason = status === 'True' ? 'Converged' : 'PodsNotConverged'): Condition => ({ type: 'Ready', status, reason, message: `ready ${reason}` });
  const progressing = (status: 'True' | 'False', reason: string): Condition => ({ type: 'Progressing', status, reason, message: `progressing ${reason}` });
  const degraded: Condition = { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no failures' };
  const get = (cs: Condition[], type: string) => cs.find((c) => c.type === type);

  it('Reconciling mirrors Progressing=True (a rotation staging, promoting, revoking, or pushes under way)', () => {
    for (const reason of ['Staging', 'Promoting', 'Revoking', 'Converging']) {
      const cs = withKstatusConditions([ready('False', reason), progressing('True', reason), degraded]);
      expect(get(cs, 'Reconciling')).toEqual({ type: 'Reconciling', status: 'True', reason, message: `progressing ${reason}` });
      expect(get(cs, 'Stalled')?.status).toBe('False');
    }
  });

  it('Reconciling=True while Ready=False with nothing in flight (pods behind, unreachable, none selected yet)', () => {
    for (const reason of ['PodsNotConverged', 'PodsUnreachable', 'NoPods']) {
      const cs = withKstatusConditions([ready('False', reason), progressing('False', 'Idle'), degraded]);
      expect(get(cs, 'Reconciling')).toMatchObject({ status: 'True', reason, message: `ready ${reason}` });
    }
  });

  it('Reconciling=False when Ready, with the Progressing reason (Idle, Suspended, RotationDeferred)', () => {
    for (const reason of ['Idle', 'Suspended', 'RotationDeferred']) {
      const cs = withKstatusConditions([ready('True'), progressing('False', reason), degraded]);
      expect(get(cs, 'Reconciling')).toMatchObject({ status: 'False', reason });
      expect(get(cs, 'Stalled')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    }
  });

  it('Stalled=True with the cause, Reconciling=False; existing conditions kept as they are, no duplicates', () => {
    const base = [ready('False', 'NoPods'), progressing('False', 'Idle'), degraded];
    const once = withKstatusConditions(base, { reason: 'SelectorConflict', message: 'pods left to web' });
    const twice = withKstatusConditions(once, { reason: 'SelectorConflict', message: 'pods left to web' });
    expect(twice).toEqual(once);
    expect(once.slice(0, 3)).toEqual(base);
    expect(get(once, 'Stalled')).toEqual({ type: 'Stalled', status: 'True', reason: 'SelectorConflict', message: 'pods left to web' });
    expect(get(once, 'Reconciling')).toMatchObject({ status: 'False', reason: 'Stalled' });
  });
});
