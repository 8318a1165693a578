// Ats9Bridge with an ack channel (a real FIFO, the plugin's records written by the test) over a
// fake traffic_manager: receipts for exactly the ring sent, the stats-lag overlay and its
// verification, the trust model's worst case (a forged ack for the ring in flight: answered
// early, then the stats win), and the fallback when the plugin sends no acks.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ats9Bridge } from '../../../../src/agent/ats9/ats9-bridge.ts';
import { PLUGIN_STATS, PROXY_START_TIME } from '../../../../src/agent/ats9/plugin-protocol.ts';
import { ringFingerprint } from '../../../../src/core/fingerprint.ts';
import { filledKey as key } from '../../../fixtures/keys.ts';
import { FakeManager } from './fake-manager.ts';

const LOADED_AT = 1000n;
let fake: FakeManager;
let bridge: Ats9Bridge;
let dir: string;
let fifo: string;

function publish(generation: number, keys: Buffer[], loadedAt = LOADED_AT): void {
  fake.records.set(PROXY_START_TIME, 1000n);
  for (const name of Object.values(PLUGIN_STATS)) fake.records.set(name, 0n);
  fake.records.set(PLUGIN_STATS.loadedAt, loadedAt);
  fake.records.set(PLUGIN_STATS.generation, BigInt(generation));
  fake.records.set(PLUGIN_STATS.keyCount, BigInt(keys.length));
  fake.records.set(PLUGIN_STATS.ringFingerprint, keys.length ? BigInt(`0x${ringFingerprint(Buffer.concat(keys))}`) : 0n);
}

/** The plugin's install record for this ring. */
function ack(generation: number, keys: Buffer[], loadedAt = LOADED_AT, result = 'installed'): void {
  const fp = ringFingerprint(Buffer.concat(keys));
  const reason = result === 'installed' ? '' : ` reason=${result}`;
  const line = `tka1 seq=1 kind=ring result=${result === 'installed' ? 'installed' : 'rejected'}${reason} gen=${generation} keys=${keys.length} fp=${fp} installed=${generation} loaded_at=${loadedAt}\n`;
  const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, line);
  } finally {
    closeSync(fd);
  }
}


async function open(options: { ackWaitMs?: number; ackTrustMs?: number } = {}): Promise<void> {
  bridge = await Ats9Bridge.create({ socketPath: fake.socketPath }, { timeoutMs: 500, ackFifo: fifo, ackWaitMs: options.ackWaitMs ?? 5000, ackTrustMs: options.ackTrustMs ?? 60_000 });
}

beforeEach(async () => {
  fake = await FakeManager.start();
  dir = await mkdtemp(join(tmpdir(), 'tko-bridge-ack-'));
  fifo = join(dir, 'acks');
  publish(0, []);
});

afterEach(async () => {
  await bridge?.close();
  await fake.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Ats9Bridge with an ack channel', () => {
  it('returns the receipt for the ring sent; reports it until the stats show it, then counts it verified', async () => {
    await open();
    const keys = [key(1), key(2)];
    const pending = bridge.installWithReceipt({ generation: 5, keys, revoke: false });
    ack(5, keys);
    expect(await pending).toEqual({ generation: 5, keyCount: 2, ringFingerprint: ringFingerprint(Buffer.concat(keys)) });
    // Stats still at generation 0: the acked ring is what the plugin holds.
    expect(await bridge.readInstalled()).toMatchObject({ generation: 5, keyCount: 2 });
    publish(5, keys);
    expect(await bridge.readInstalled()).toMatchObject({ generation: 5, keyCount: 2 });
    expect(bridge.ackChannelStats()).toMatchObject({ records: { matched: 1 }, statsChecks: { verified: 1, unverified: 0 } });
  });

  it('ignores an ack for another ring or generation (counted unmatched) and falls back to the stats', async () => {
    await open({ ackWaitMs: 200 });
    const keys = [key(3)];
    const pending = bridge.installWithReceipt({ generation: 6, keys, revoke: false });
    ack(6, [key(4)]);
    ack(7, keys);
    expect(await pending).toBeUndefined();
    expect(bridge.ackChannelStats()?.records).toMatchObject({ matched: 0, unmatched: 2 });
    expect((await bridge.readInstalled()).generation).toBe(0);
  });

  it('a forged ack for the ring in flight answers early, but the stats win after ackTrustMs', async () => {
    await open({ ackTrustMs: 30 });
    const keys = [key(5)];
    const pending = bridge.installWithReceipt({ generation: 8, keys, revoke: false });
    ack(8, keys); // the plugin never installs it: the stats stay at 0
    expect(await pending).toMatchObject({ generation: 8 });
    await sleep(60);
    expect((await bridge.readInstalled()).generation).toBe(0);
    expect(bridge.ackChannelStats()?.statsChecks).toEqual({ verified: 0, unverified: 1 });
  });

  it('an ack from another plugin load (ATS restarted) is not laid over the stats', async () => {
    await open();
    const keys = [key(6)];
    const pending = bridge.installWithReceipt({ generation: 9, keys, revoke: false });
    ack(9, keys, LOADED_AT + 5n);
    await pending;
    expect((await bridge.readInstalled()).generation).toBe(0);
  });

  it('a rejection is thrown with the plugin reason', async () => {
    await open();
    const keys = [key(7)];
    const pending = bridge.installWithReceipt({ generation: 3, keys, revoke: false });
    ack(3, keys, LOADED_AT, 'stale_generation');
    await expect(pending).rejects.toMatchObject({ name: 'AtsRejectedError', reason: 'stale_generation', installedGeneration: 3 });
  });

  it('after installs without acks, a late ack is counted and the next install waits for its ack again', async () => {
    await open({ ackWaitMs: 20 });
    for (let g = 1; g <= 4; g++) expect(await bridge.installWithReceipt({ generation: g, keys: [key(g)], revoke: false })).toBeUndefined();
    ack(4, [key(4)]);
    for (let i = 0; i < 100 && bridge.ackChannelStats()!.records.late === 0; i++) await sleep(10);
    expect(bridge.ackChannelStats()?.records.late).toBe(1);
    const pending = bridge.installWithReceipt({ generation: 5, keys: [key(5)], revoke: false });
    ack(5, [key(5)]);
    expect(await pending).toMatchObject({ generation: 5 });
  });
});
