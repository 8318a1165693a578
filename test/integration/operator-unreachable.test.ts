// One Ready pod's agent is unreachable during a rotation: the staged key is not promoted,
// Degraded names that pod, and once the agent is back the rotation completes. A pod that is not
// Ready (and has no agent at all) never blocks the promotion.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';
import { Fleet } from '../helpers/fleet.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { spawnOperator, type SpawnedOperator } from '../helpers/operator.ts';
import { TicketKeySets, ticketKeySet } from '../helpers/ticket-key-sets.ts';

const ns = useNamespace('operator-unreachable');
const PORT = 19443;
let fleet: Fleet;
let operator: SpawnedOperator;
let tks: TicketKeySets;

beforeAll(async () => {
  const kc = testKubeConfig();
  tks = new TicketKeySets(kc, ns.name);
  fleet = await Fleet.create({ kc, namespace: ns.name, port: PORT });
  for (const [i, name] of ['ats-0', 'ats-1', 'ats-2'].entries()) await fleet.add(name, { ip: `127.0.0.${131 + i}`, labels: { app: 'unr' } });
  // Not Ready, and nothing listens at its IP.
  await fleet.add('ats-3', { ip: '127.0.0.134', labels: { app: 'unr' }, containersReady: false, startAgent: false });
  operator = await spawnOperator({ certs: fleet.files, namespaces: [ns.name] });
  await tks.create(
    ticketKeySet('web', { selector: { matchLabels: { app: 'unr' } }, rotation: { interval: '1h' }, promotion: { timeout: '3s' }, agent: { port: PORT } }),
  );
}, 60_000);

afterAll(async () => {
  await operator?.stop();
  await fleet?.close();
});

const condition = async (type: string) => (await tks.get('web')).status?.conditions?.find((c) => c.type === type);

describe('operator: an unreachable agent blocks promotion, a not-Ready pod does not', () => {
  let active = '';
  let staged = '';

  it('converges the Ready pods while the not-Ready pod has no agent', async () => {
    const t = await eventually('first ring on the three Ready pods', async () => {
      const t = await tks.get('web');
      return t.status?.pods?.converged === 3 && t.status.phase === 'Stable' ? t : undefined;
    });
    active = t.status!.activeKey!.fingerprint;
    expect(t.status?.pods?.total).toBe(4);
    expect(t.status?.pods?.items?.[0]?.name).toBe('ats-3'); // laggards first
    expect(t.status?.pods?.items?.[0]?.error).toBeDefined();
  });

  it('keeps the new key staged and names the unreachable pod in Degraded', async () => {
    await fleet.stopAgent('ats-2');
    await new TicketKeySetAnnotator({ kubeConfig: testKubeConfig() }).requestRotation({ namespace: ns.name, name: 'web' });
    const degraded = await eventually('Degraded after the promotion timeout', async () => {
      const c = await condition('Degraded');
      return c?.status === 'True' && c.reason === 'PromotionTimedOut' ? c : undefined;
    });
    // The laggards the gate waits for come before the error details: only the Ready pod.
    const [laggards] = degraded.message.split('; errors:');
    expect(laggards).toContain('ats-2');
    expect(laggards).not.toContain('ats-3');
    const t = await tks.get('web');
    expect(t.status?.phase).toBe('Staging');
    expect(t.status?.activeKey?.fingerprint).toBe(active);
    staged = t.status!.stagedKey!.fingerprint;
    for (const name of ['ats-0', 'ats-1']) expect((await fleet.client(name).getRing()).ats.generation).toBe(t.status?.keyGeneration);
  });

  it('completes the rotation once the agent is back', async () => {
    await fleet.startAgent('ats-2');
    const t = await eventually(
      'rotation complete',
      async () => {
        const t = await tks.get('web');
        return t.status?.phase === 'Stable' && t.status.activeKey?.fingerprint === staged ? t : undefined;
      },
      45_000,
    ).catch(async (err: unknown) => {
      console.log(JSON.stringify((await tks.get('web')).status, null, 1), operator.logs().slice(-40).join('\n'));
      throw err;
    });
    expect(t.status?.retiredKeys?.map((k) => k.fingerprint)).toEqual([active]);
    expect(t.status?.pods?.converged).toBe(3);
    // Still Degraded by the not-Ready pod's errors, but no longer by a timed-out promotion.
    expect((await condition('Degraded'))?.reason).toBe('PushFailed');
  });
});
