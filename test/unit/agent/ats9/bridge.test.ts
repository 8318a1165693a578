import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtsUnavailableError } from '../../../../src/agent/ats-bridge.ts';
import { Ats9Bridge, mgmtSocketFromRunroot } from '../../../../src/agent/ats9/ats9-bridge.ts';
import { OpType } from '../../../../src/agent/ats9/mgmt-marshall.ts';
import { CACHE_TAG, PLUGIN_STATS, PROXY_START_TIME, RING_TAG } from '../../../../src/agent/ats9/plugin-protocol.ts';
import { ringFingerprint } from '../../../../src/core/fingerprint.ts';
import { filledKey } from '../../../fixtures/keys.ts';
import { FakeManager } from './fake-manager.ts';

let fake: FakeManager;
let bridge: Ats9Bridge;

function publish(stats: Partial<Record<keyof typeof PLUGIN_STATS, bigint>>, startTime = 1000n): void {
  fake.records.set(PROXY_START_TIME, startTime);
  for (const [k, name] of Object.entries(PLUGIN_STATS)) {
    fake.records.set(name, stats[k as keyof typeof PLUGIN_STATS] ?? 0n);
  }
}

beforeEach(async () => {
  fake = await FakeManager.start();
  bridge = new Ats9Bridge({ socketPath: fake.socketPath }, { timeoutMs: 500 });
});

afterEach(async () => {
  await bridge.close();
  await fake.stop();
});

describe('install', () => {
  it('sends one TKR1 frame under ticketkeys.ring', async () => {
    const keys = [filledKey(1), filledKey(2)];
    await bridge.install({ generation: 7, keys, revoke: false });
    const msg = fake.received.find((r) => r.op === OpType.LIFECYCLE_MESSAGE);
    expect(msg?.tag).toBe(RING_TAG);
    expect(msg?.data?.subarray(0, 4).toString()).toBe('TKR1');
    expect(msg?.data?.readBigUInt64BE(8)).toBe(7n);
    expect(msg?.data?.subarray(16).equals(Buffer.concat(keys))).toBe(true);
  });

  it.each([
    ['plain', {}, 0],
    ['revoke', { revoke: true }, 1],
    ['reassert', { reassert: true }, 2],
  ])('sets the frame flags of a %s install', async (_name, flags, byte) => {
    await bridge.install({ generation: 7, keys: [filledKey(1)], revoke: false, ...flags });
    expect(fake.received.find((r) => r.op === OpType.LIFECYCLE_MESSAGE)?.data?.[5]).toBe(byte);
  });

  it('refuses while traffic_server is down, sending nothing (traffic_manager would drop it)', async () => {
    fake.proxyOn = false;
    await expect(bridge.install({ generation: 1, keys: [filledKey(0)], revoke: false })).rejects.toBeInstanceOf(AtsUnavailableError);
    expect(fake.received.filter((r) => r.op === OpType.LIFECYCLE_MESSAGE)).toEqual([]);
  });

  it('refuses a malformed ring before any I/O', async () => {
    await expect(bridge.install({ generation: 1, keys: [Buffer.alloc(47)], revoke: false })).rejects.toThrow(RangeError);
    expect(fake.received).toEqual([]);
  });
});

describe('readInstalled', () => {
  it('maps the plugin stats; the fingerprint is the 63-bit stat in hex', async () => {
    const ring = Buffer.alloc(96, 3);
    publish({ generation: 12n, keyCount: 2n, ringFingerprint: BigInt(`0x${ringFingerprint(ring)}`), rejected: 4n, loadedAt: 1001n });
    expect(await bridge.readInstalled()).toEqual({
      generation: 12,
      keyCount: 2,
      ringFingerprint: ringFingerprint(ring),
      rejected: 4,
      startTime: 1000,
      mlockFailed: false,
    });
  });

  it('reports the plugin\'s mlock failure, and leaves it out for a plugin that does not publish it', async () => {
    publish({ generation: 1n, loadedAt: 1000n, mlockFailed: 1n });
    expect((await bridge.readInstalled()).mlockFailed).toBe(true);
    fake.records.delete(PLUGIN_STATS.mlockFailed);
    const older = await bridge.readInstalled();
    expect(older.generation).toBe(1);
    expect('mlockFailed' in older).toBe(false);
  });

  it('reports nothing installed as generation 0 and an empty fingerprint', async () => {
    publish({ loadedAt: 1000n });
    expect(await bridge.readInstalled()).toMatchObject({ generation: 0, keyCount: 0, ringFingerprint: '' });
  });

  it('treats stats older than the current traffic_server as unavailable (restart not synced yet)', async () => {
    publish({ generation: 9n, loadedAt: 999n }, 1000n);
    await expect(bridge.readInstalled()).rejects.toThrow(/restarted/);
  });

  it('treats missing plugin stats as unavailable', async () => {
    fake.records.set(PROXY_START_TIME, 1000n);
    await expect(bridge.readInstalled()).rejects.toBeInstanceOf(AtsUnavailableError);
  });

  it('is unavailable while traffic_server is down', async () => {
    publish({ generation: 9n, loadedAt: 1000n });
    fake.proxyOn = false;
    await expect(bridge.readInstalled()).rejects.toBeInstanceOf(AtsUnavailableError);
  });
});

describe('session cache', () => {
  it('sends flush and remove commands under ticketkeys.cache', async () => {
    await bridge.flushSessionCache();
    await bridge.removeSession('00ff');
    const sent = fake.received.filter((r) => r.op === OpType.LIFECYCLE_MESSAGE).map((r) => [r.tag, r.data?.toString()]);
    expect(sent).toEqual([
      [CACHE_TAG, 'flush'],
      [CACHE_TAG, 'remove 00ff'],
    ]);
  });

  it('reads the cache counters', async () => {
    publish({ cacheTracked: 5n, cacheRemoved: 3n, cacheFlushes: 1n, cacheHits: 9n, loadedAt: 1000n });
    expect(await bridge.sessionCacheStats()).toEqual({ tracked: 5, removed: 3, flushes: 1, hits: 9 });
  });

  it('a plugin without the hits stat: stats without hits, not an outage', async () => {
    publish({ cacheTracked: 5n, loadedAt: 1000n });
    fake.records.delete(PLUGIN_STATS.cacheHits);
    expect(await bridge.sessionCacheStats()).toEqual({ tracked: 5, removed: 0, flushes: 0 });
  });
});

describe('mgmtSocketFromRunroot', () => {
  it('reads runtimedir from runroot.yaml (directory or file)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tko-runroot-'));
    try {
      await writeFile(join(dir, 'runroot.yaml'), 'prefix: /x\nruntimedir: /x/run\n');
      expect(await mgmtSocketFromRunroot(dir)).toBe('/x/run/mgmtapi.sock');
      expect(await mgmtSocketFromRunroot(join(dir, 'runroot.yaml'))).toBe('/x/run/mgmtapi.sock');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
