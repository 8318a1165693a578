// The acting knobs with real ATS: rotate-now, suspend, revoke (old tickets and cached sessions
// stop resuming everywhere) and the Immediate policy.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';
import { testKubeConfig } from '../helpers/kube.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';

const PORT = 19443;
const TLS_PORT = 18443;
const IPS = ['127.0.0.201', '127.0.0.202'];
const sc = useOperatorScenario('operator-ats-actions', {
  port: PORT,
  pods: IPS.map((ip, i) => ({ name: `ats-${i}`, ip, labels: { app: 'act' }, ats: true, tlsPort: TLS_PORT })),
  ticketKeySet: ticketKeySet('web', { selector: { matchLabels: { app: 'act' } }, rotation: { interval: '1h' }, ticketLifetime: '1h', promotion: { timeout: '3s' }, agent: { port: PORT } }),
  firstRingPods: 2,
  setupTimeoutMs: 120_000,
  teardownTimeoutMs: 60_000,
});
const ns = sc.ns;

const ref = () => ({ namespace: ns.name, name: 'web' });
const annotator = () => new TicketKeySetAnnotator({ kubeConfig: testKubeConfig() });
const probe = (host: string, options: { session?: Buffer; tls?: '1.2' | '1.3'; sessionIdOnly?: boolean } = {}) =>
  tlsProbe({ host, port: TLS_PORT, tls: options.tls ?? '1.3', servername: 'act.test', ...(options.session ? { session: options.session } : {}), ...(options.sessionIdOnly ? { sessionIdOnly: true } : {}) });
const count = async (reason: string) => (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).filter((e) => e.reason === reason).reduce((n, e) => n + e.count, 0);
const stableAfter = (generation: number) =>
  untilStatus(sc.tks, 'web', `Stable beyond generation ${generation}`, (t) => t.status?.phase === 'Stable' && (t.status.keyGeneration ?? 0) > generation && t.status.pods?.converged === 2);

describe('operator + real ATS: rotate-now, suspend, revoke, Immediate', () => {
  it('rotate-now rotates once; tickets of the previous key still resume on every pod', async () => {
    const before = await sc.tks.get('web');
    const old = (await probe(IPS[0]!)).newSession!;
    await annotator().requestRotation(ref());
    const after = await stableAfter(before.status!.keyGeneration!);
    expect(after.status?.keyGeneration).toBe(before.status!.keyGeneration! + 2);
    expect(after.status?.retiredKeys?.map((k) => k.fingerprint)).toEqual([before.status?.activeKey?.fingerprint]);
    for (const ip of IPS) expect((await probe(ip, { session: old })).resumed).toBe(true);
  });

  it('suspend stops scheduled and requested rotations; resuming rotates once', async () => {
    await sc.tks.mergePatch('web', { spec: { rotation: { suspend: true, interval: '10s' } } });
    await untilStatus(sc.tks, 'web', 'Suspended', (t) => t.status?.conditions?.find((c) => c.type === 'Progressing')?.reason === 'Suspended');
    const suspended = await sc.tks.get('web');
    expect(suspended.status?.nextRotationTime).toBeUndefined();
    await annotator().requestRotation(ref());
    // Longer than the interval: neither the schedule nor the request may rotate meanwhile.
    await sleep(11_000);
    const still = await sc.tks.get('web');
    expect(still.status?.keyGeneration).toBe(suspended.status?.keyGeneration);
    expect(still.status?.conditions?.find((c) => c.type === 'Progressing')?.message).toContain('rotate-now request waits');

    const staged = await count('KeyStaged');
    await sc.tks.mergePatch('web', { spec: { rotation: { suspend: false, interval: '1h' } } });
    const resumed = await stableAfter(suspended.status!.keyGeneration!);
    // The missed schedule and the pending request make one rotation, not two.
    expect(resumed.status?.keyGeneration).toBe(suspended.status!.keyGeneration! + 2);
    expect(await count('KeyStaged')).toBe(staged + 1);
    expect(resumed.status?.nextRotationTime).toBeDefined();
  });

  it('revoke: old tickets and cached sessions no longer resume anywhere; new ones do', async () => {
    const before = await sc.tks.get('web');
    const ticket13 = (await probe(IPS[0]!)).newSession!;
    const ticket12 = (await probe(IPS[1]!, { tls: '1.2' })).newSession!;
    const cached = (await probe(IPS[0]!, { tls: '1.2', sessionIdOnly: true })).newSession!;
    expect((await probe(IPS[0]!, { tls: '1.2', sessionIdOnly: true, session: cached })).resumed).toBe(true);

    await annotator().requestRevoke(ref());
    const after = await stableAfter(before.status!.keyGeneration!);
    expect(after.status?.retiredKeys).toEqual([]);
    expect(after.status?.activeKey?.fingerprint).not.toBe(before.status?.activeKey?.fingerprint);
    const revoked = (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).find((e) => e.reason === 'KeysRevoked');
    expect(revoked?.type).toBe('Warning');

    for (const ip of IPS) {
      expect((await probe(ip, { session: ticket13 })).resumed).toBe(false);
      expect((await probe(ip, { tls: '1.2', session: ticket12 })).resumed).toBe(false);
    }
    // Session caches were flushed: the session-id session is gone too.
    expect((await probe(IPS[0]!, { tls: '1.2', sessionIdOnly: true, session: cached })).resumed).toBe(false);
    const fresh = (await probe(IPS[0]!)).newSession!;
    expect((await probe(IPS[1]!, { session: fresh })).resumed).toBe(true);
  });

  it('Immediate policy: the new key encrypts at once, without a staging phase', async () => {
    await sc.tks.mergePatch('web', { spec: { promotion: { policy: 'Immediate' } } });
    const before = await sc.tks.get('web');
    const staged = await count('KeyStaged');
    await annotator().requestRotation(ref());
    const after = await stableAfter(before.status!.keyGeneration!);
    // One ring change: straight to the new active key.
    expect(after.status?.keyGeneration).toBe(before.status!.keyGeneration! + 1);
    expect(await count('KeyStaged')).toBe(staged);
    const promoted = (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).filter((e) => e.reason === 'KeyPromoted').at(-1);
    expect(promoted?.note).toContain('Immediate policy');
    expect(after.status?.retiredKeys?.map((k) => k.fingerprint)).toEqual([before.status?.activeKey?.fingerprint]);
  });
});
