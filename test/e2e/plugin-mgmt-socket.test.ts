// The TypeScript client of ATS 9's management socket against real traffic_manager: RECORD_GET of
// each value type, error codes, RECONFIGURE, and LIFECYCLE_MESSAGE carrying arbitrary binary
// bytes intact. Latencies are measured into test-results/plugin-measurements.json.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Ats9Bridge } from '../../src/agent/ats9/ats9-bridge.ts';
import { MgmtClient, MgmtRequestError } from '../../src/agent/ats9/mgmt-client.ts';
import { PLUGIN_STATS } from '../../src/agent/ats9/plugin-protocol.ts';
import { ringFingerprint } from '../../src/core/fingerprint.ts';
import { keyName, newKey, percentile, pushRing, recordMeasurement, startTestAts, waitForRing, waitForStats, type TestAts } from '../helpers/ats.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';
import { filledKey } from '../fixtures/keys.ts';

const ADDR = '127.0.0.40';

let ats: TestAts;
let bridge: Ats9Bridge;
let mgmt: MgmtClient;
let generation = 0;

beforeAll(async () => {
  ats = await startTestAts({ addr: ADDR });
  bridge = ats.createBridge();
  mgmt = new MgmtClient({ socketPath: ats.mgmtSocket });
});

afterAll(async () => {
  await mgmt?.close();
  await bridge?.close();
  await ats?.dispose();
});

describe('RECORD_GET', () => {
  it('reads int, float and string records', async () => {
    expect(await mgmt.recordGet('proxy.config.ssl.session_cache')).toEqual({ type: 'int', value: 2n });
    expect(await mgmt.recordGet('proxy.config.exec_thread.autoconfig.scale')).toEqual({ type: 'float', value: 1 });
    const ports = await mgmt.recordGet('proxy.config.http.server_ports');
    expect(ports.type).toBe('string');
    expect(ports.value).toContain(`ip-in=${ADDR}`);
  });

  it('an unknown record is TS_ERR_PARAMS', async () => {
    const err = await mgmt.recordGet('proxy.config.no.such.record').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MgmtRequestError);
    expect((err as MgmtRequestError).message).toContain('TS_ERR_PARAMS');
    // The connection stays usable after an error answer.
    expect(await mgmt.proxyRunning()).toBe(true);
  });

  it('agrees with `traffic_ctl metric get`', async () => {
    const k = newKey();
    await pushRing(bridge, ++generation, [k]);
    const names = [PLUGIN_STATS.generation, PLUGIN_STATS.keyCount, PLUGIN_STATS.ringFingerprint, 'proxy.node.restarts.proxy.start_time'];
    const { stdout } = await ats.trafficCtl(['metric', 'get', ...names]);
    for (const name of names) {
      const line = stdout.split('\n').find((l) => l.startsWith(`${name} `));
      expect(line?.split(' ')[1]).toBe(String(await mgmt.recordGetInt(name)));
    }
  });
});

describe('LIFECYCLE_MESSAGE', () => {
  it('delivers binary payloads byte for byte (NUL, 0xff, newlines in keys)', async () => {
    const keys = [filledKey(0), filledKey(0xff), Buffer.from('\n\r\0'.repeat(16), 'latin1')];
    keys[0]![0] = 1; // distinct key names
    const stats = await pushRing(bridge, ++generation, keys);
    expect(stats.ringFingerprint).toBe(ringFingerprint(Buffer.concat(keys)));
    expect((await tlsProbe({ host: ADDR, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(keys[0]!));
  });
});

describe('RECONFIGURE', () => {
  it('reloads configuration: traffic_manager records it and the plugin re-applies', async () => {
    const before = await bridge.readStats();
    const reconfiguredAt = await mgmt.recordGetInt('proxy.node.config.reconfigure_time');
    await new Promise((r) => setTimeout(r, 1100)); // reconfigure_time has 1 s resolution

    await bridge.reloadConfig();

    expect(await mgmt.recordGetInt('proxy.node.config.reconfigure_time')).toBeGreaterThan(reconfiguredAt);
    await waitForStats(bridge, (s) => s.reapplies > before.reapplies, 'plugin re-apply');
  });
});

describe('latency (measured, not asserted)', () => {
  it('every push becomes effective; message, push-to-effective and read-back times are recorded', async () => {
    const messageMs: number[] = [];
    const effectiveMs: number[] = [];
    const readBackMs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const k = newKey();
      const t0 = performance.now();
      await bridge.install({ generation: ++generation, keys: [k], revoke: false });
      messageMs.push(performance.now() - t0);
      // Effective = a new handshake issues a ticket under the new key.
      for (;;) {
        const r = await tlsProbe({ host: ADDR, port: ats.tlsPort, tls: '1.3' });
        if (r.ticketKeyName === keyName(k)) break;
      }
      effectiveMs.push(performance.now() - t0);
      if (i % 10 === 0) {
        await waitForRing(bridge, generation, [k]);
        readBackMs.push(performance.now() - t0);
      }
    }
    const summary = (xs: number[]) => ({
      n: xs.length,
      p50: +percentile(xs, 50).toFixed(2),
      p99: +percentile(xs, 99).toFixed(2),
      max: +Math.max(...xs).toFixed(2),
    });
    await recordMeasurement('plugin-measurements.json', 'latency.installMessageMs', summary(messageMs));
    await recordMeasurement('plugin-measurements.json', 'latency.pushToEffectiveMs', summary(effectiveMs));
    await recordMeasurement('plugin-measurements.json', 'latency.pushToStatsReadBackMs', summary(readBackMs));
    expect(effectiveMs).toHaveLength(200);
  });
});
