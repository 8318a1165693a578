// Fail open, on the real API server with real agents: when the operator can reach no agent at
// all (a wrong NetworkPolicy, a CA mistake, an operator-side partition), no serving pod is
// taken out of service through the readiness gate, the staged key is not promoted, rotations do
// not pile up, and the status says what it did not observe. Once the agents are back the
// rotation completes.
import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { READINESS_GATE_CONDITION_TYPE } from '../../src/api/names.ts';
import { eventually } from '../helpers/kube.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const sc = useOperatorScenario('operator-fail-open', {
  port: PORT,
  pods: PODS.map((name, i) => ({ name, ip: `127.0.4.${1 + i}`, labels: { app: 'open' }, readinessGates: [READINESS_GATE_CONDITION_TYPE] })),
  operator: { agentTimeout: '1s' },
  ticketKeySet: ticketKeySet('web', { selector: { matchLabels: { app: 'open' } }, rotation: { interval: '20s' }, promotion: { timeout: '3s' }, agent: { port: PORT } }),
});

const podConditions = async (pod: string) => {
  const conditions = (await sc.fleet.pods.get(pod)).status?.conditions ?? [];
  return { gate: conditions.find((c) => c.type === READINESS_GATE_CONDITION_TYPE)?.status, ready: conditions.find((c) => c.type === 'Ready')?.status };
};

describe('operator: every agent unreachable at once', () => {
  let firstGeneration = 0; // the generation of the ring staged while no agent answers
  let staged = '';

  it('lets the pods into service once they hold the first ring', async () => {
    const t = await untilStatus(sc.tks, 'web', 'Ready 3/3', (t) => isReady(t, '3/3'));
    firstGeneration = t.status!.keyGeneration!;
    for (const pod of PODS) {
      await eventually(`${pod} Ready`, async () => {
        await sc.fleet.pods.syncReadiness(pod); // the kubelet's step: Ready follows the gate
        return (await podConditions(pod)).ready === 'True' ? true : undefined;
      });
    }
  });

  it('keeps every pod in service, holds the staged key and does not rotate again while no agent answers', async () => {
    for (const pod of PODS) await sc.fleet.stopAgent(pod);
    // The 20 s schedule stages the next key while no agent answers.
    const t = await untilStatus(sc.tks, 'web', 'staged, promotion timed out', (t) =>
      t.status?.phase === 'Staging' && t.status.conditions?.some((c) => c.type === 'Degraded' && c.reason === 'PromotionTimedOut') === true,
      40_000,
    );
    staged = t.status!.stagedKey!.fingerprint;
    firstGeneration = t.status!.keyGeneration!;
    // Sample for longer than the rotation interval: nothing changes, nothing is claimed.
    const until = Date.now() + 25_000;
    while (Date.now() < until) {
      const now = await sc.tks.get('web');
      expect(now.status).toMatchObject({ phase: 'Staging', keyGeneration: firstGeneration, pods: { total: 3, converged: 0, summary: '0/3' } });
      expect(now.status?.stagedKey?.fingerprint).toBe(staged);
      expect(now.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
      for (const pod of PODS) {
        await sc.fleet.pods.syncReadiness(pod);
        expect(await podConditions(pod)).toEqual({ gate: 'True', ready: 'True' });
      }
      await sleep(1000);
    }
  }, 90_000);

  it('promotes the staged key and converges once the agents are back', async () => {
    for (const pod of PODS) await sc.fleet.startAgent(pod);
    const t = await untilStatus(sc.tks, 'web', 'rotation complete', (t) => t.status?.activeKey?.fingerprint === staged && isReady(t, '3/3'), 150_000);
    expect(t.status?.keyGeneration).toBeGreaterThanOrEqual(firstGeneration + 1);
    for (const pod of PODS) expect((await podConditions(pod)).gate).toBe('True');
  }, 160_000);
});
