import { describe, expect, it } from '@jest/globals';
import { ConfigReloadCoordinator } from '../../../src/agent/config-reload-coordinator.ts';
import { MemoryBridge } from '../../../src/agent/memory-bridge.ts';
import { AgentMetrics } from '../../../src/agent/metrics.ts';
import { decodeRing } from '../../../src/agent/ring.ts';
import { RingKeeper } from '../../../src/agent/ring-keeper.ts';
import { keyTraces, newKey } from '../../fixtures/keys.ts';
import { capturedLogger, ringBody } from './fixtures.ts';

async function setup(options: { push?: boolean } = {}) {
  const bridge = new MemoryBridge();
  const metrics = new AgentMetrics();
  const { logger, lines } = capturedLogger();
  const keeper = new RingKeeper({ bridge, logger, metrics, readbackDeadlineMs: 200 });
  const keys = [newKey(), newKey()];
  if (options.push !== false) await keeper.put(decodeRing(ringBody(3, keys)));
  const coordinator = new ConfigReloadCoordinator({ bridge, keeper, metrics, logger, settleMs: 40, pollMs: 2 });
  await coordinator.checkExternal(); // baseline
  return { bridge, metrics, keeper, coordinator, lines, keys };
}

async function metric(metrics: AgentMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as Array<{ value: number; labels: Record<string, string> }> | undefined)?.find((x) =>
    Object.entries(labels).every(([k, val]) => x.labels[k] === val),
  );
  return v?.value ?? 0;
}

describe('ConfigReloadCoordinator', () => {
  it('reloads ATS on a directory change and reports the hash; ring untouched: no re-assert, window 0', async () => {
    const { bridge, metrics, keeper, coordinator } = await setup();
    const reload = await coordinator.applyConfig('hash-b');
    expect(bridge.reloadCalls).toBe(1);
    expect(reload).toMatchObject({ trigger: 'agent', configHash: 'hash-b', keysReasserted: false, windowMs: 0 });
    expect(coordinator.report()).toMatchObject({ configHash: 'hash-b', lastReload: { configHash: 'hash-b' } });
    expect((await keeper.getRing()).inSync).toBe(true);
    expect(await metric(metrics, 'tko_agent_config_reloads_total', { result: 'ok', trigger: 'agent' })).toBe(1);
    // The agent's own reload is not seen again as an external one.
    expect(await coordinator.checkExternal()).toBeUndefined();
  });

  it('restores the accepted ring when the reload loads file keys, measuring the window', async () => {
    const { bridge, metrics, keeper, coordinator } = await setup();
    bridge.reloadLoadsFileKeys = true;
    const reload = await coordinator.applyConfig('hash-c');
    expect(reload?.keysReasserted).toBe(true);
    expect(reload?.windowMs).toBeGreaterThan(0);
    expect((await keeper.getRing()).inSync).toBe(true);
    expect((await bridge.readInstalled()).generation).toBe(3);
    expect(await metric(metrics, 'tko_agent_config_keys_reasserted_total')).toBe(1);
  });

  it('detects a reload run by someone else from the reconfigure time and verifies the ring', async () => {
    const { bridge, keeper, coordinator } = await setup();
    coordinator.adoptInitial('hash-a');
    expect(await coordinator.checkExternal()).toBeUndefined();
    bridge.reloadLoadsFileKeys = true;
    bridge.simulateExternalReload();
    const reload = await coordinator.checkExternal();
    expect(reload).toMatchObject({ trigger: 'external', configHash: 'hash-a', keysReasserted: true });
    expect((await keeper.getRing()).inSync).toBe(true);
    expect(bridge.reloadCalls).toBe(0);
  });

  it('never rolls back a newer generation ATS holds after a reload', async () => {
    const { bridge, coordinator } = await setup();
    await bridge.install({ generation: 9, keys: [newKey()], revoke: false });
    const reload = await coordinator.applyConfig('hash-d');
    expect(reload?.keysReasserted).toBe(false);
    expect((await bridge.readInstalled()).generation).toBe(9);
  });

  it('counts directory problems without reloading, and a failed reload keeps the old hash', async () => {
    const { bridge, metrics, coordinator, lines, keys } = await setup();
    coordinator.adoptInitial('hash-a');
    coordinator.recordProblem('..data', 'symlink loop');
    expect(await metric(metrics, 'tko_agent_config_problems_total')).toBe(1);
    expect(bridge.reloadCalls).toBe(0);
    bridge.stop();
    expect(await coordinator.applyConfig('hash-e')).toBeUndefined();
    expect(coordinator.report().configHash).toBe('hash-a');
    expect(await metric(metrics, 'tko_agent_config_reloads_total', { result: 'failed', trigger: 'agent' })).toBe(1);
    const log = lines.join('\n');
    for (const trace of keyTraces(keys)) expect(log).not.toContain(trace);
  });
});
