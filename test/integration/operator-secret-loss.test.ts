// The owned Secret lost, on the real API server with real agents: deleted, then restored from an
// older backup. Each time the operator says so (a Warning Event SecretRegenerated; Degraded while
// pods still lack the new ring),
// never pushes the unknown bytes, and replaces them with a new ring at a generation above
// everything any pod holds: no pod's generation ever goes backwards and no old key comes back.
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { secretName } from '../../src/api/index.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { storedKeys, ticketKeySetEvents } from '../../dev/operator-records.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';

const PORT = 19443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const sc = useOperatorScenario('operator-secret-loss', {
  port: PORT,
  pods: PODS.map((name, i) => ({ name, ip: `127.0.90.${1 + i}`, labels: { app: 'loss' } })),
  ticketKeySet: ticketKeySet('web', { selector: { matchLabels: { app: 'loss' } }, rotation: { interval: '1h' }, promotion: { timeout: '5s' }, agent: { port: PORT } }),
  firstRingPods: 3,
});
const core = () => testKubeConfig().makeApiClient(CoreV1Api);

/** What every pod's agent shows ATS holding (generation, ring fingerprint). */
async function podGenerations(): Promise<number[]> {
  return Promise.all(PODS.map(async (pod) => (await sc.fleet.client(pod).getRing()).ats.generation));
}

const regenerated = (reason: string) => async () => {
  const events = await ticketKeySetEvents(testKubeConfig(), sc.ns.name, 'web');
  return events.some((e) => e.type === 'Warning' && e.reason === 'SecretRegenerated' && e.note.includes(reason)) ? events : undefined;
};

describe('operator: the owned Secret deleted or restored from an older backup', () => {
  let backup: V1Secret;
  let seen: string[] = []; // every key fingerprint the set has issued so far
  let highest = 0; // the highest generation any pod has held

  it('rotates once, keeping a copy of the Secret as a backup would', async () => {
    backup = await core().readNamespacedSecret({ namespace: sc.ns.name, name: secretName('web') });
    const before = (await sc.tks.get('web')).status!.keyGeneration!;
    await new TicketKeySetAnnotator({ kubeConfig: testKubeConfig() }).requestRotation({ namespace: sc.ns.name, name: 'web' });
    await untilStatus(sc.tks, 'web', 'rotated and Ready 3/3', (t) => t.status!.keyGeneration! > before && t.status?.phase === 'Stable' && isReady(t, '3/3'));
    seen = (await storedKeys(testKubeConfig(), sc.ns.name, 'web')).keys.map((k) => k.fingerprint);
    highest = Math.max(...(await podGenerations()));
  });

  it('regenerates above every pod when the Secret is deleted, never reusing a key', async () => {
    await core().deleteNamespacedSecret({ namespace: sc.ns.name, name: secretName('web') });
    // With every agent answering, the new ring reaches all pods within one reconcile, so the
    // Degraded SecretRegenerated condition may never be written: the Event is the record.
    await eventually('Warning Event SecretRegenerated (deleted)', regenerated('is gone'));
    const t = await untilStatus(sc.tks, 'web', 'new ring on 3/3', (t) => t.status!.keyGeneration! > highest && t.status?.phase === 'Stable' && isReady(t, '3/3'));
    const keys = (await storedKeys(testKubeConfig(), sc.ns.name, 'web')).keys.map((k) => k.fingerprint);
    expect(keys.filter((k) => seen.includes(k))).toEqual([]);
    for (const g of await podGenerations()) expect(g).toBe(t.status!.keyGeneration);
    expect(t.status!.keyGeneration!).toBeGreaterThan(highest);
    seen = [...seen, ...keys];
    highest = t.status!.keyGeneration!;
  });

  it('does not push an older backup restored over the Secret: a new ring goes above it', async () => {
    const current = await core().readNamespacedSecret({ namespace: sc.ns.name, name: secretName('web') });
    // Restore the backup's bytes and annotations into the live object (a restore tool's replace).
    await core().replaceNamespacedSecret({
      namespace: sc.ns.name,
      name: secretName('web'),
      body: { ...current, data: backup.data, metadata: { ...current.metadata, annotations: backup.metadata?.annotations } },
    });
    await eventually('Warning Event SecretRegenerated (older generation)', regenerated('older than the issued generation'));
    const t = await untilStatus(sc.tks, 'web', 'new ring above the restored one on 3/3', (t) => t.status!.keyGeneration! > highest && t.status?.phase === 'Stable' && isReady(t, '3/3'));
    const keys = (await storedKeys(testKubeConfig(), sc.ns.name, 'web')).keys.map((k) => k.fingerprint);
    expect(keys.filter((k) => seen.includes(k))).toEqual([]);
    for (const g of await podGenerations()) expect(g).toBe(t.status!.keyGeneration);
    const ready = t.status?.conditions?.find((c) => c.type === 'Degraded');
    expect(ready?.status).toBe('False');
  });
});
