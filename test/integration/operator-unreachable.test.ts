// One Ready pod's agent is unreachable during a rotation: the staged key is not promoted,
// Degraded names that pod, and once the agent is back the rotation completes. A pod that is not
// Ready (and has no agent at all) never blocks the promotion.
import { describe, expect, it } from '@jest/globals';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const sc = useOperatorScenario('operator-unreachable', {
  port: PORT,
  pods: [
    ...['ats-0', 'ats-1', 'ats-2'].map((name, i) => ({ name, ip: `127.0.0.${131 + i}`, labels: { app: 'unr' } })),
    // Not Ready, and nothing listens at its IP.
    { name: 'ats-3', ip: '127.0.0.134', labels: { app: 'unr' }, containersReady: false, startAgent: false },
  ],
  ticketKeySet: ticketKeySet('web', { selector: { matchLabels: { app: 'unr' } }, rotation: { interval: '1h' }, promotion: { timeout: '3s' }, agent: { port: PORT } }),
});
const ns = sc.ns;

const condition = async (type: string) => (await sc.tks.get('web')).status?.conditions?.find((c) => c.type === type);

describe('operator: an unreachable agent blocks promotion, a not-Ready pod does not', () => {
  let active = '';
  let staged = '';

  it('converges the Ready pods while the not-Ready pod has no agent', async () => {
    const t = await untilStatus(sc.tks, 'web', 'first ring on the three Ready pods', (t) => t.status?.pods?.converged === 3 && t.status.phase === 'Stable');
    active = t.status!.activeKey!.fingerprint;
    expect(t.status?.pods?.total).toBe(4);
    expect(t.status?.pods?.items?.[0]?.name).toBe('ats-3'); // laggards first
    expect(t.status?.pods?.items?.[0]?.error).toBeDefined();
  });

  it('keeps the new key staged and names the unreachable pod in Degraded', async () => {
    await sc.fleet.stopAgent('ats-2');
    await new TicketKeySetAnnotator({ kubeConfig: testKubeConfig() }).requestRotation({ namespace: ns.name, name: 'web' });
    const degraded = await eventually('Degraded after the promotion timeout', async () => {
      const c = await condition('Degraded');
      return c?.status === 'True' && c.reason === 'PromotionTimedOut' ? c : undefined;
    });
    // The laggards the gate waits for come before the error details: only the Ready pod.
    const [laggards] = degraded.message.split('; errors:');
    expect(laggards).toContain('ats-2');
    expect(laggards).not.toContain('ats-3');
    const t = await sc.tks.get('web');
    expect(t.status?.phase).toBe('Staging');
    expect(t.status?.activeKey?.fingerprint).toBe(active);
    staged = t.status!.stagedKey!.fingerprint;
    for (const name of ['ats-0', 'ats-1']) expect((await sc.fleet.client(name).getRing()).ats.generation).toBe(t.status?.keyGeneration);
  });

  it('completes the rotation once the agent is back', async () => {
    await sc.fleet.startAgent('ats-2');
    const t = await untilStatus(sc.tks, 'web', 'rotation complete', (t) => t.status?.phase === 'Stable' && t.status.activeKey?.fingerprint === staged, 45_000).catch(async (err: unknown) => {
      console.log(JSON.stringify((await sc.tks.get('web')).status, null, 1), sc.operator.logs().slice(-40).join('\n'));
      throw err;
    });
    expect(t.status?.retiredKeys?.map((k) => k.fingerprint)).toEqual([active]);
    expect(t.status?.pods?.converged).toBe(3);
    // Still Degraded by the not-Ready pod's errors, but no longer by a timed-out promotion.
    expect((await condition('Degraded'))?.reason).toBe('PushFailed');
  });
});
