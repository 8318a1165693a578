import { describe, expect, it } from '@jest/globals';
import { AgentMetrics } from '../../../src/agent/metrics.ts';

async function names(m: AgentMetrics): Promise<string[]> {
  return (await m.registry.getMetricsAsJSON()).map((x) => x.name);
}

describe('AgentMetrics', () => {
  it('carries the Node process metrics by default (CPU, memory, event-loop delay)', async () => {
    const all = await names(new AgentMetrics());
    expect(all).toContain('tko_agent_process_cpu_user_seconds_total');
    expect(all).toContain('tko_agent_process_resident_memory_bytes');
    expect(all).toContain('tko_agent_nodejs_eventloop_lag_seconds');
    expect(all).toContain('tko_agent_ring_installs_total');
  });

  it('leaves them out when many agents share a process, keeping every agent series', async () => {
    const withProcess = await names(new AgentMetrics({ processMetrics: true }));
    const without = await names(new AgentMetrics({ processMetrics: false }));
    expect(without.filter((n) => n.startsWith('tko_agent_process_') || n.startsWith('tko_agent_nodejs_'))).toEqual([]);
    const agentOwn = withProcess.filter((n) => !n.startsWith('tko_agent_process_') && !n.startsWith('tko_agent_nodejs_'));
    expect(without.sort()).toEqual(agentOwn.sort());
    expect(without).toContain('tko_agent_ring_installs_total');
  });
});
