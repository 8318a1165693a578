// Pushed keys live only in traffic_server's memory: a restart or a crash loses them, and the
// stats say so (generation 0, a new start time) so the agent can re-assert. While ATS is down
// the bridge says AtsUnavailableError instead of letting traffic_manager drop the message.
import { describe, expect, it } from '@jest/globals';
import { AtsUnavailableError } from '../../src/agent/ats-bridge.ts';
import { findAtsProcesses } from '../../src/dev/ats-process.ts';
import { newKey, pushRing, useTestAts, waitFor, waitForStats } from '../helpers/ats.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';

const ADDR = '127.0.0.49';

const env = useTestAts(ADDR);
let generation = 0;

const probe = (session?: Buffer) => tlsProbe({ host: ADDR, port: env.ats.tlsPort, tls: '1.3', session });

describe.each<['restart' | 'killProxy', string]>([
  ['restart', 'traffic_server restart (traffic_ctl server restart)'],
  ['killProxy', 'traffic_server crash (SIGKILL, relaunched by traffic_manager)'],
])('%s', (method, _label) => {
  it('loses the keys: stats show generation 0 and a new start time; re-pushing restores resumption', async () => {
    const k = newKey();
    const g = ++generation;
    const before = await pushRing(env.bridge, g, [k]);
    const session = (await probe()).newSession!;

    await env.ats[method]();

    const after = await waitForStats(env.bridge, (s) => s.startTime > before.startTime, 'new start time');
    expect(after).toMatchObject({ generation: 0, keyCount: 0, ringFingerprint: '', installs: 0 });
    expect((await probe(session)).resumed).toBe(false);

    // What the agent does on a new start time: install its last ring again (same generation).
    await pushRing(env.bridge, g, [k]);
    expect((await probe(session)).resumed).toBe(true);
  });
});

describe('while ATS is down', () => {
  it('traffic_server stopped: every bridge call fails with AtsUnavailableError', async () => {
    await env.ats.trafficCtl(['server', 'stop']);
    try {
      await waitFor(async () => !(await env.bridge.proxyRunning()), 'traffic_server stopped');
      await expect(env.bridge.install({ generation: 9, keys: [newKey()], revoke: false })).rejects.toBeInstanceOf(AtsUnavailableError);
      await expect(env.bridge.readInstalled()).rejects.toBeInstanceOf(AtsUnavailableError);
      await expect(env.bridge.flushSessionCache()).rejects.toBeInstanceOf(AtsUnavailableError);
      await expect(env.bridge.sessionCacheStats()).rejects.toBeInstanceOf(AtsUnavailableError);
    } finally {
      await env.ats.trafficCtl(['server', 'start']);
    }
    await waitForStats(env.bridge, (s) => s.generation === 0, 'traffic_server back');
  });

  it('traffic_manager stopped: no ATS process is left, and the bridge says AtsUnavailableError', async () => {
    expect((await env.ats.pids()).server).toBeDefined();
    await env.ats.stop();
    expect(await findAtsProcesses(env.ats.runroot)).toEqual([]);
    await expect(env.bridge.readInstalled()).rejects.toBeInstanceOf(AtsUnavailableError);
    await expect(env.bridge.install({ generation: 9, keys: [newKey()], revoke: false })).rejects.toBeInstanceOf(AtsUnavailableError);
  });
});
