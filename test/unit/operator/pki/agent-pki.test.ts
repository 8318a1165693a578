// The agent PKI acts only once started (on the leader): a pod event on a standby replica must not
// make it write the CA or certificates. And lifetimes that cannot rotate safely are refused.
import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { AgentPki } from '../../../../src/operator/pki/agent-pki.ts';
import { createLogger } from '../../../../src/observability/logger.ts';
import type { Clock } from '../../../../src/operator/runtime/clock.ts';

function options(policy?: { caValidityMs: number; certValidityMs: number; propagationMs: number }) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const timers: number[] = [];
  const clock: Clock = { now: () => 0, setTimeout: (_fn, ms) => (timers.push(ms), {}), clearTimeout: () => {} };
  return {
    timers,
    opts: {
      kubeConfig,
      secret: { namespace: 'ops', name: 'ca' },
      requestTimeoutMs: 1000,
      pods: { list: () => [] },
      applyTls: () => {},
      clock,
      logger: createLogger({ component: 'test', level: 'error' }),
      ...(policy ? { policy } : {}),
    },
  };
}

describe('AgentPki', () => {
  it('does nothing on a pod event before it was started (a standby replica)', () => {
    const { timers, opts } = options();
    const pki = new AgentPki(opts);
    pki.poke();
    pki.poke();
    expect(timers).toEqual([]);
  });

  it.each([
    ['certificates that outlive the CA', { caValidityMs: 10_000, certValidityMs: 10_000, propagationMs: 1000 }, 'agent certificate validity must be shorter than the CA validity'],
    ['a propagation delay that eats the overlap', { caValidityMs: 30_000, certValidityMs: 1000, propagationMs: 10_000 }, 'shorter than a third of the CA validity'],
  ])('refuses %s', (_what, policy, message) => {
    expect(() => new AgentPki(options(policy).opts)).toThrow(message);
  });
});
