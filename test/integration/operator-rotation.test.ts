// A real `tko operator` process against the test bed, three pods with real agents (memory
// installer: this scenario is about the protocol, the ATS scenarios live in test/e2e): the
// first ring reaches every pod, a scheduled rotation stages a key, promotes it once all three
// acknowledged it, retires the old key and destroys it after ticketLifetime + timeout.
import { describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../src/api/index.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { storedRing, ticketKeySetEvents } from '../../dev/operator-records.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { recordMeasurement } from '../helpers/ats.ts';

const PORT = 19443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const sc = useOperatorScenario('operator-rotation', {
  port: PORT,
  pods: PODS.map((name, i) => ({ name, ip: `127.0.0.${121 + i}`, labels: { app: 'rot' } })),
});
const ns = sc.ns;

const get = () => sc.tks.get('web');
const reasons = async () => (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).map((e) => e.reason);

describe('operator: rotation across three pods', () => {
  let firstGeneration = 0;
  let firstActive = '';

  it('installs the first ring on every pod and reports Ready with 3/3 converged', async () => {
    const created = Date.now();
    await sc.tks.create(
      ticketKeySet('web', {
        selector: { matchLabels: { app: 'rot' } },
        rotation: { interval: '12s' },
        ticketLifetime: '10s',
        promotion: { timeout: '5s' },
        agent: { port: PORT },
      }),
    );
    const ready = await untilStatus(sc.tks, 'web', 'Ready with 3/3', (t) => isReady(t, '3/3'));
    await recordMeasurement('operator.json', 'firstRingConvergenceMs_3pods', Date.now() - created);
    firstGeneration = ready.status!.keyGeneration!;
    firstActive = ready.status!.activeKey!.fingerprint;
    expect(ready.status?.phase).toBe('Stable');
    expect(ready.status?.secretName).toBe('web-ticket-keys');
    expect(ready.status?.observedGeneration).toBe(ready.metadata.generation);
    for (const name of PODS) {
      const ring = await sc.fleet.client(name).getRing();
      expect(ring.ats.generation).toBe(firstGeneration);
    }
    const stored = await storedRing(testKubeConfig(), ns.name, 'web');
    expect(stored?.generation).toBe(firstGeneration);
    expect(ready.status?.pods?.items?.map((p) => p.ringFingerprint)).toEqual([stored!.ringFingerprint, stored!.ringFingerprint, stored!.ringFingerprint]);
  });

  it('stages, promotes after all three acknowledgements, and retires the old key', async () => {
    const t0 = Date.now();
    const rotated = await untilStatus(
      sc.tks,
      'web',
      'a promoted rotation',
      (t) => !!t.status?.activeKey && t.status.activeKey.fingerprint !== firstActive && t.status.phase === 'Stable' && t.status.pods?.summary === '3/3',
      40_000,
    );
    await recordMeasurement('operator.json', 'scheduledRotationCompleteAfterMs', Date.now() - t0);
    const s: TicketKeySet['status'] = rotated.status!;
    // Stage (a ring change) then promote (another): two generations for one rotation.
    expect(s.keyGeneration).toBe(firstGeneration + 2);
    expect(s.retiredKeys?.map((k) => k.fingerprint)).toEqual([firstActive]);
    expect(s.stagedKey).toBeUndefined();
    const r = await reasons();
    const staged = r.indexOf('KeyStaged');
    const promoted = r.indexOf('KeyPromoted');
    expect(staged).toBeGreaterThanOrEqual(0);
    expect(promoted).toBeGreaterThan(staged);
    expect(r.indexOf('RotationComplete')).toBeGreaterThan(promoted);
    for (const name of PODS) expect((await sc.fleet.client(name).getRing()).ats.generation).toBe(s.keyGeneration);
  });

  it('destroys the retired key after ticketLifetime + promotion timeout', async () => {
    const destroyed = await eventually(
      'retired key destroyed',
      async () => {
        const events = await ticketKeySetEvents(testKubeConfig(), ns.name, 'web');
        return events.find((e) => e.reason === 'KeyDestroyed' && e.note.includes(firstActive));
      },
      40_000,
    );
    expect(destroyed.type).toBe('Normal');
    const t = await get();
    expect(t.status?.retiredKeys?.map((k) => k.fingerprint)).not.toContain(firstActive);
  });

  it('serves metrics and health', async () => {
    const metrics = await (await fetch(`${sc.operator.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ticketkeys_pods_converged\\{namespace="${ns.name}",name="web"\\} 3`));
    expect(metrics).toMatch(/ticketkeys_pushes_total\{result="success"\} \d+/);
    expect(metrics).toMatch(/controller_runtime_reconcile_total/);
    expect((await fetch(`${sc.operator.metricsUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${sc.operator.metricsUrl}/healthz`)).status).toBe(200);
  });

  it('never logs key bytes', async () => {
    const logs = sc.operator.logs().join('\n');
    expect(logs).not.toMatch(/[A-Za-z0-9+/]{60,}={0,2}/);
  });
});
