// The operator process dies at the worst moments of a rotation (TKO_FAULT makes it SIGKILL
// itself at an exact point): right after the staged key was persisted, in the middle of the
// fan-out, and after every pod acknowledged the staged key but before the promotion was
// persisted. A fresh process resumes from the Secret: the same staged key is promoted (no second
// new key), and never before every Ready pod acknowledged it.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';
import { testKubeConfig } from '../helpers/kube.ts';
import { spawnOperator } from '../../dev/operator-process.ts';
import { storedKeys, ticketKeySetEvents } from '../../dev/operator-records.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
// No long-lived operator: each test runs its own processes.
const sc = useOperatorScenario('operator-crash', {
  port: PORT,
  pods: PODS.map((name, i) => ({ name, ip: `127.0.0.${151 + i}`, labels: { app: 'crash' } })),
  operator: false,
  ticketKeySet: ticketKeySet('web', { selector: { matchLabels: { app: 'crash' } }, rotation: { interval: '1h' }, promotion: { timeout: '3s' }, agent: { port: PORT } }),
});
const ns = sc.ns;

beforeAll(async () => {
  const op = await spawnOperator({ certs: sc.fleet.files, namespaces: [ns.name] });
  await untilStatus(sc.tks, 'web', 'first ring everywhere', (t) => t.status?.pods?.converged === 3);
  await op.stop();
}, 60_000);

const kc = () => testKubeConfig();
const requestRotation = () => new TicketKeySetAnnotator({ kubeConfig: kc() }).requestRotation({ namespace: ns.name, name: 'web' });
const stagedCount = async () => (await ticketKeySetEvents(kc(), ns.name, 'web')).filter((e) => e.reason === 'KeyStaged').reduce((n, e) => n + e.count, 0);

/** Runs an operator that kills itself at `fault` during a requested rotation; returns the Secret after the crash. */
async function crashDuringRotation(fault: string) {
  const before = await storedKeys(kc(), ns.name, 'web');
  const op = await spawnOperator({ certs: sc.fleet.files, namespaces: [ns.name], env: { TKO_FAULT: fault } });
  await requestRotation();
  const exit = await op.exited;
  expect(exit.signal).toBe('SIGKILL');
  const after = await storedKeys(kc(), ns.name, 'web');
  expect(after.phase).toBe('Staging');
  expect(after.generation).toBe(before.generation + 1);
  const staged = after.keys.find((k) => k.state === 'staged')!.fingerprint;
  const active = after.keys.find((k) => k.state === 'active')!.fingerprint;
  expect(active).toBe(before.keys.find((k) => k.state === 'active')!.fingerprint);
  return { before, staged, active };
}

/** A fresh operator finishes the rotation: the staged key of the crashed process becomes active. */
async function resumeAndComplete(staged: string, generationBefore: number, stagedEventsBefore: number): Promise<void> {
  const op = await spawnOperator({ certs: sc.fleet.files, namespaces: [ns.name] });
  try {
    const t = await untilStatus(
      sc.tks,
      'web',
      'the staged key promoted',
      (t) => t.status?.phase === 'Stable' && t.status.activeKey?.fingerprint === staged && t.status.pods?.converged === 3,
      45_000,
    );
    // Stage + promote: exactly two ring generations for the rotation, and no second staged key.
    expect(t.status?.keyGeneration).toBe(generationBefore + 2);
    expect(await stagedCount()).toBe(stagedEventsBefore);
    const stored = await storedKeys(kc(), ns.name, 'web');
    expect(stored.keys.filter((k) => k.state === 'staged')).toEqual([]);
    for (const name of PODS) expect((await sc.fleet.client(name).getRing()).ats.generation).toBe(generationBefore + 2);
  } finally {
    await op.stop();
  }
}

describe('operator: killed mid-rotation, a fresh process resumes', () => {
  it('after the stage persist (before any push)', async () => {
    const { before, staged } = await crashDuringRotation('exit-after-persist');
    // Nothing was pushed: every pod still holds the previous generation.
    for (const name of PODS) expect((await sc.fleet.client(name).getRing()).ats.generation).toBe(before.generation);
    await resumeAndComplete(staged, before.generation, await stagedCount());
  });

  it('mid fan-out, and the fresh process does not promote while a Ready pod lacks the staged key', async () => {
    // ats-2's agent is down: the fan-out reaches ats-0/ats-1 only; the first acknowledgement kills the process.
    await sc.fleet.stopAgent('ats-2');
    const { before, staged, active } = await crashDuringRotation('exit-mid-fanout');
    const held = await Promise.all(['ats-0', 'ats-1'].map(async (n) => (await sc.fleet.client(n).getRing()).ats.generation));
    expect(held).toContain(before.generation + 1);
    const op = await spawnOperator({ certs: sc.fleet.files, namespaces: [ns.name] });
    try {
      // The fresh process evaluates the gate (and times out on ats-2) without promoting.
      const t = await untilStatus(sc.tks, 'web', 'promotion timed out on ats-2', (t) => t.status?.conditions?.find((c) => c.type === 'Degraded')?.reason === 'PromotionTimedOut');
      expect(t.status?.phase).toBe('Staging');
      expect(t.status?.activeKey?.fingerprint).toBe(active);
      expect(t.status?.stagedKey?.fingerprint).toBe(staged);
      expect((await storedKeys(kc(), ns.name, 'web')).generation).toBe(before.generation + 1);
    } finally {
      await op.stop();
    }
    await sc.fleet.startAgent('ats-2');
    await resumeAndComplete(staged, before.generation, await stagedCount());
  });

  it('between stage and promote (every pod acknowledged, promotion not yet persisted)', async () => {
    const { before, staged } = await crashDuringRotation('exit-before-promote');
    // Every pod holds the staged ring; the active key is still the old one everywhere.
    for (const name of PODS) expect((await sc.fleet.client(name).getRing()).ats.generation).toBe(before.generation + 1);
    await resumeAndComplete(staged, before.generation, await stagedCount());
  });
});
