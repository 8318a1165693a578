// RingKeeper with a bridge that confirms installs itself (the plugin's ack channel): a receipt
// for exactly the ring answers without a stats read-back; a receipt for another ring, or none,
// falls back to the stats; a rejection is answered at once.
import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../../../src/agent/api-error.ts';
import { AtsRejectedError, type InstallReceipt, type RingInstall } from '../../../src/agent/ats-bridge.ts';
import { MemoryBridge } from '../../../src/agent/memory-bridge.ts';
import { AgentMetrics } from '../../../src/agent/metrics.ts';
import { decodeRing, type Ring } from '../../../src/agent/ring.ts';
import { RingKeeper } from '../../../src/agent/ring-keeper.ts';
import { ringFingerprint } from '../../../src/core/fingerprint.ts';
import { newKey } from '../../fixtures/keys.ts';
import { capturedLogger, ringBody } from './fixtures.ts';

type Answer = 'receipt' | 'wrong-receipt' | 'none' | 'stale' | 'other-reject';

/** Applies installs like the plugin, and answers installWithReceipt as told. */
class ReceiptBridge extends MemoryBridge {
  answer: Answer = 'receipt';
  async installWithReceipt(ring: RingInstall): Promise<InstallReceipt | undefined> {
    if (this.answer === 'stale') throw new AtsRejectedError('stale_generation', 99);
    if (this.answer === 'other-reject') throw new AtsRejectedError('duplicate_key_name', 0);
    await this.install(ring);
    const fp = ringFingerprint(Buffer.concat(ring.keys));
    if (this.answer === 'none') return undefined;
    if (this.answer === 'wrong-receipt') return { generation: ring.generation + 1, keyCount: ring.keys.length, ringFingerprint: fp };
    return { generation: ring.generation, keyCount: ring.keys.length, ringFingerprint: fp };
  }
}

function setup() {
  const bridge = new ReceiptBridge();
  const metrics = new AgentMetrics();
  const keeper = new RingKeeper({ bridge, logger: capturedLogger().logger, metrics, readbackDeadlineMs: 200 });
  const count = async (via: string) => (await metrics.installConfirmations.get()).values.find((v) => v.labels.via === via)?.value ?? 0;
  return { bridge, keeper, count };
}

const ring = (generation: number, keys: Buffer[]): Ring => decodeRing(ringBody(generation, keys));

describe('RingKeeper with install receipts', () => {
  it('a receipt for the ring confirms it (via ack)', async () => {
    const { keeper, count } = setup();
    const k = newKey();
    const res = await keeper.put(ring(1, [k]));
    expect(res.ringFingerprint).toBe(ringFingerprint(k));
    expect(await count('ack')).toBe(1);
    expect(await count('stats')).toBe(0);
    expect(keeper.accepted()?.generation).toBe(1);
  });

  it.each(['none', 'wrong-receipt'] as const)('%s: confirmed from the stats instead', async (answer) => {
    const { bridge, keeper, count } = setup();
    bridge.answer = answer;
    await keeper.put(ring(1, [newKey()]));
    expect(await count('ack')).toBe(0);
    expect(await count('stats')).toBe(1);
  });

  it('a stale-generation rejection is a 409 stale_generation, nothing accepted', async () => {
    const { bridge, keeper } = setup();
    bridge.answer = 'stale';
    const err = await keeper.put(ring(1, [newKey()])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'stale_generation' });
    expect(keeper.accepted()).toBeNull();
  });

  it('another rejection is a 502 naming the plugin reason', async () => {
    const { bridge, keeper } = setup();
    bridge.answer = 'other-reject';
    const err = await keeper.put(ring(1, [newKey()])).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502, code: 'internal' });
    expect((err as Error).message).toContain('duplicate_key_name');
  });
});
