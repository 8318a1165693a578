import { describe, expect, it } from '@jest/globals';
import type { PodObservation } from '../../../src/core/observations.ts';
import { decideGates } from '../../../src/core/readiness.ts';
import { pod } from './support.ts';

const CURRENT = { generation: 5, ringFingerprint: 'aaaaaaaaaaaaaaaa' };
const gp = (observation: PodObservation, gateTrue = true) => ({ observation, declaresGate: true, gateTrue });

describe('decideGates (fail open)', () => {
  it.each<[string, PodObservation, boolean, string | undefined]>([
    ['holds the current ring → True', pod('p', { acked: CURRENT }), true, 'RingInstalled'],
    ['serving, agent unreachable → untouched', pod('p', { readFailed: true, error: 'timeout' }), true, undefined],
    ['serving, unreachable, last seen holding it → untouched', pod('p', { acked: CURRENT, ackStale: true, readFailed: true, error: 'timeout' }), true, undefined],
    ['serving, lagging on an issued ring → untouched', pod('p', { acked: { generation: 4, ringFingerprint: 'bbbbbbbbbbbbbbbb' } }), true, undefined],
    ['serving, holds nothing pushed → out', pod('p'), true, 'RingNotDecryptable'],
    ['serving, claims a generation never issued → out', pod('p', { rejectedAck: { generation: 2 ** 53 - 1, ringFingerprint: 'cccccccccccccccc' }, error: 'x' }), true, 'RingNotDecryptable'],
    ['newcomer unreachable → stays out', pod('p', { readFailed: true, error: 'refused' }), false, 'AgentUnreachable'],
    ['newcomer behind → stays out', pod('p', { acked: { generation: 4, ringFingerprint: 'bbbbbbbbbbbbbbbb' } }), false, 'RingBehind'],
  ])('%s', (_name, observation, gateTrue, reason) => {
    const d = decideGates([gp(observation, gateTrue)], CURRENT, 1, 0);
    expect(d.updates.map((u) => u.reason)[0]).toBe(reason);
  });

  it('never takes out more serving pods than the bound allows, counting pods already unavailable', () => {
    const foreign = ['a', 'b', 'c'].map((n) => gp(pod(n)));
    expect(decideGates(foreign, CURRENT, 2, 0).updates.map((u) => u.pod)).toEqual(['a', 'b']);
    expect(decideGates(foreign, CURRENT, 2, 0).heldByBudget).toEqual(['c']);
    expect(decideGates(foreign, CURRENT, 2, 2).updates).toEqual([]);
    expect(decideGates(foreign, CURRENT, 0, 0).heldByBudget).toEqual(['a', 'b', 'c']);
  });

  it('leaves pods that do not declare the gate, and terminating pods, alone', () => {
    expect(decideGates([{ observation: pod('a'), declaresGate: false, gateTrue: true }, gp(pod('b', { terminating: true }))], CURRENT, 5, 0).updates).toEqual([]);
  });
});
