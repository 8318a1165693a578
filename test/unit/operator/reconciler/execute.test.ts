import { describe, expect, it } from '@jest/globals';
import type { PutRingRequest } from '../../../../src/agent/protocol.ts';
import type { Action, KeyMaterial, PodAck, RotationState } from '../../../../src/core/index.ts';
import { executeActions, putRingRequest, type ExecutionPorts } from '../../../../src/operator/reconciler/execute.ts';
import type { FaultPoint } from '../../../../src/operator/reconciler/fault.ts';
import { seededKeys } from '../../../fixtures/keys.ts';

const fp = 'f'.repeat(16);

function recorder(options: { failPersist?: boolean; failPush?: string[]; wrongAck?: string[] } = {}) {
  const log: string[] = [];
  const faults: FaultPoint[] = [];
  const ports: ExecutionPorts = {
    now: () => 0,
    persist: (s) => {
      log.push(`persist ${s.phase}`);
      return options.failPersist ? Promise.reject(new Error('409 conflict')) : Promise.resolve();
    },
    push: (pod: string, req: PutRingRequest): Promise<PodAck> => {
      log.push(`push ${pod} ${req.generation}`);
      if (options.failPush?.includes(pod)) return Promise.reject(new Error('unreachable'));
      return Promise.resolve({ generation: options.wrongAck?.includes(pod) ? req.generation - 1 : req.generation, ringFingerprint: fp });
    },
    flushSessionCache: (pod) => {
      log.push(`flush ${pod}`);
      return Promise.resolve();
    },
    event: (e) => {
      log.push(`event ${e.reason}`);
      return Promise.resolve();
    },
    fault: (p) => faults.push(p),
  };
  return { log, faults, ports };
}

const state = (phase: RotationState['phase']): RotationState => ({ generation: 1, phase, keys: [], pushAttempts: 0 });

function actions(opts: { phase?: RotationState['phase']; staged?: boolean; revoke?: boolean; destroy?: KeyMaterial[] } = {}): Action[] {
  const [active, staged] = seededKeys(2, 'execute-ring') as [KeyMaterial, KeyMaterial];
  const ring = [{ material: active, state: 'active' as const }, ...(opts.staged ? [{ material: staged, state: 'staged' as const }] : [])];
  return [
    { kind: 'persist', state: state(opts.phase ?? 'Stable') },
    { kind: 'push', generation: 2, ringFingerprint: fp, ring, pods: ['a', 'b'], revoke: opts.revoke ?? false },
    ...(opts.revoke ? [{ kind: 'flushSessionCache' as const, pods: ['a', 'b'] }] : []),
    ...(opts.destroy ? [{ kind: 'destroyKeys' as const, keys: opts.destroy }] : []),
    { kind: 'event', type: 'Normal', reason: 'KeyStaged', message: 'staged' },
    { kind: 'conditions', conditions: [], laggards: [], pods: { total: 2, converged: 0 } },
    { kind: 'requeue', afterMs: 1234 },
  ];
}

describe('executeActions', () => {
  it('runs persist, pushes, flushes, destroys, events in order and returns conditions and requeue', async () => {
    const old = seededKeys(1, 'execute-old')[0]!;
    const { log, ports } = recorder();
    const out = await executeActions(state('Stable'), actions({ revoke: true, destroy: [old] }), ports, { concurrency: 1 });
    expect(log).toEqual(['persist Stable', 'push a 2', 'push b 2', 'flush a', 'flush b', 'event KeyStaged']);
    expect(out.persisted).toBe(true);
    expect(old.destroyed).toBe(true);
    expect(out.requeueAfterMs).toBe(1234);
    expect(out.conditions?.pods).toEqual({ total: 2, converged: 0 });
    expect([...out.pushes.values()]).toEqual([{ ack: { generation: 2, ringFingerprint: fp } }, { ack: { generation: 2, ringFingerprint: fp } }]);
  });

  it('stops at a failed persist: nothing pushed, no key destroyed, no event', async () => {
    const old = seededKeys(1, 'execute-old')[0]!;
    const { log, ports } = recorder({ failPersist: true });
    const out = await executeActions(state('Stable'), actions({ destroy: [old] }), ports, { concurrency: 4 });
    expect(log).toEqual(['persist Stable']);
    expect(out.persistError).toBeInstanceOf(Error);
    expect(old.destroyed).toBe(false);
    expect(out.pushes.size).toBe(0);
  });

  it('records push failures and wrong acknowledgements per pod; flushes only pods whose push succeeded', async () => {
    const { log, ports } = recorder({ failPush: ['a'] });
    const out = await executeActions(state('Revoking'), actions({ phase: 'Revoking', revoke: true }), ports, { concurrency: 2 });
    expect(out.pushes.get('a')).toEqual({ error: 'Error: unreachable' });
    expect(log.filter((l) => l.startsWith('flush'))).toEqual(['flush b']);
    const wrong = recorder({ wrongAck: ['b'] });
    const out2 = await executeActions(state('Stable'), actions(), wrong.ports, { concurrency: 2 });
    expect(out2.pushes.get('b')).toEqual({ error: expect.stringContaining('agent reports generation 1') });
  });

  it('reaches the crash-test fault points exactly where they are named', async () => {
    const staging = recorder();
    await executeActions(state('Stable'), actions({ phase: 'Staging', staged: true }), staging.ports, { concurrency: 1 });
    expect(staging.faults).toEqual(['exit-after-persist', 'exit-mid-fanout']);
    const promoting = recorder();
    await executeActions(state('Staging'), actions({ phase: 'Promoting' }), promoting.ports, { concurrency: 1 });
    expect(promoting.faults).toEqual(['exit-before-promote']);
  });
});

describe('putRingRequest', () => {
  it('carries the ring in push order with fingerprints and states', () => {
    const [a, s] = seededKeys(2, 'put-ring') as [KeyMaterial, KeyMaterial];
    const req = putRingRequest({ kind: 'push', generation: 9, ringFingerprint: fp, ring: [{ material: a, state: 'active' }, { material: s, state: 'staged' }], pods: [], revoke: true });
    expect(req.generation).toBe(9);
    expect(req.revoke).toBe(true);
    expect(req.keys.map((k) => [k.fingerprint, k.state])).toEqual([
      [a.fingerprint, 'active'],
      [s.fingerprint, 'staged'],
    ]);
    expect(Buffer.from(req.keys[0]!.material, 'base64').equals(a.copyBytes())).toBe(true);
  });
});
