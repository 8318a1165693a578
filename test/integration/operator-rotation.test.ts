// A real `tko operator` process against the test bed, three pods with real agents (memory
// installer: this scenario is about the protocol, the ATS scenarios live in test/e2e): the
// first ring reaches every pod, a scheduled rotation stages a key, promotes it once all three
// acknowledged it, retires the old key and destroys it after ticketLifetime + timeout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../src/api/index.ts';
import { Fleet } from '../helpers/fleet.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { spawnOperator, storedRing, ticketKeySetEvents, type SpawnedOperator } from '../helpers/operator.ts';
import { TicketKeySets, ticketKeySet } from '../helpers/ticket-key-sets.ts';
import { recordMeasurement } from '../helpers/ats.ts';

const ns = useNamespace('operator-rotation');
const PORT = 19443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
let fleet: Fleet;
let operator: SpawnedOperator;
let tks: TicketKeySets;

beforeAll(async () => {
  const kc = testKubeConfig();
  tks = new TicketKeySets(kc, ns.name);
  fleet = await Fleet.create({ kc, namespace: ns.name, port: PORT });
  for (const [i, name] of PODS.entries()) await fleet.add(name, { ip: `127.0.0.${121 + i}`, labels: { app: 'rot' } });
  operator = await spawnOperator({ certs: fleet.files, namespaces: [ns.name] });
}, 60_000);

afterAll(async () => {
  await operator?.stop();
  await fleet?.close();
});

const get = () => tks.get('web');
const reasons = async () => (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).map((e) => e.reason);

describe('operator: rotation across three pods', () => {
  let firstGeneration = 0;
  let firstActive = '';

  it('installs the first ring on every pod and reports Ready with 3/3 converged', async () => {
    const created = Date.now();
    await tks.create(
      ticketKeySet('web', {
        selector: { matchLabels: { app: 'rot' } },
        rotation: { interval: '12s' },
        ticketLifetime: '10s',
        promotion: { timeout: '5s' },
        agent: { port: PORT },
      }),
    );
    const ready = await eventually('Ready with 3/3', async () => {
      const t = await get();
      const c = t.status?.conditions?.find((x) => x.type === 'Ready');
      return c?.status === 'True' && t.status?.pods?.summary === '3/3' ? t : undefined;
    });
    await recordMeasurement('operator.json', 'firstRingConvergenceMs_3pods', Date.now() - created);
    firstGeneration = ready.status!.keyGeneration!;
    firstActive = ready.status!.activeKey!.fingerprint;
    expect(ready.status?.phase).toBe('Stable');
    expect(ready.status?.secretName).toBe('web-ticket-keys');
    expect(ready.status?.observedGeneration).toBe(ready.metadata.generation);
    for (const name of PODS) {
      const ring = await fleet.client(name).getRing();
      expect(ring.ats.generation).toBe(firstGeneration);
    }
    const stored = await storedRing(testKubeConfig(), ns.name, 'web');
    expect(stored?.generation).toBe(firstGeneration);
    expect(ready.status?.pods?.items?.map((p) => p.ringFingerprint)).toEqual([stored!.ringFingerprint, stored!.ringFingerprint, stored!.ringFingerprint]);
  });

  it('stages, promotes after all three acknowledgements, and retires the old key', async () => {
    const t0 = Date.now();
    const rotated = await eventually(
      'a promoted rotation',
      async () => {
        const t = await get();
        return t.status?.activeKey && t.status.activeKey.fingerprint !== firstActive && t.status.phase === 'Stable' && t.status.pods?.summary === '3/3' ? t : undefined;
      },
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
    for (const name of PODS) expect((await fleet.client(name).getRing()).ats.generation).toBe(s.keyGeneration);
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
    const metrics = await (await fetch(`${operator.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ticketkeys_pods_converged\\{namespace="${ns.name}",name="web"\\} 3`));
    expect(metrics).toMatch(/ticketkeys_pushes_total\{result="success"\} \d+/);
    expect(metrics).toMatch(/controller_runtime_reconcile_total/);
    expect((await fetch(`${operator.metricsUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${operator.metricsUrl}/healthz`)).status).toBe(200);
  });

  it('never logs key bytes', async () => {
    const logs = operator.logs().join('\n');
    expect(logs).not.toMatch(/[A-Za-z0-9+/]{60,}={0,2}/);
  });
});
