import { describe, expect, it } from '@jest/globals';
import { Value } from '@sinclair/typebox/value';
import { TlsTicketCounters } from '../../../src/agent/protocol.ts';
import { ApiError } from '../../../src/agent/api-error.ts';
import { MemoryBridge } from '../../../src/agent/memory-bridge.ts';
import { AgentMetrics } from '../../../src/agent/metrics.ts';
import { decodeRing, type Ring } from '../../../src/agent/ring.ts';
import { RingKeeper } from '../../../src/agent/ring-keeper.ts';
import { ringFingerprint } from '../../../src/core/fingerprint.ts';
import { keyTraces, newKey } from '../../fixtures/keys.ts';
import { capturedLogger, ringBody, waitFor } from './fixtures.ts';

function setup(options: { readbackDeadlineMs?: number } = {}) {
  const bridge = new MemoryBridge();
  const metrics = new AgentMetrics();
  const { logger, lines } = capturedLogger();
  const keeper = new RingKeeper({ bridge, logger, metrics, readbackDeadlineMs: options.readbackDeadlineMs ?? 100 });
  return { bridge, metrics, keeper, lines };
}

function ring(generation: number, keys: Buffer[], revoke?: boolean): Ring {
  return decodeRing(ringBody(generation, keys, { revoke }));
}

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

async function metric(metrics: AgentMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as Array<{ value: number; labels: Record<string, string> }> | undefined)?.find((x) =>
    Object.entries(labels).every(([k, val]) => x.labels[k] === val),
  );
  return v?.value ?? 0;
}

describe('RingKeeper', () => {
  it('answers only once ATS holds the ring, and reports what it holds', async () => {
    const { bridge, keeper } = setup();
    const k1 = newKey();
    const res = await keeper.put(ring(1, [k1]));
    const held = await bridge.readInstalled();
    expect(res.generation).toBe(1);
    expect(res.ringFingerprint).toBe(ringFingerprint(k1));
    expect(held.generation).toBe(1);
    expect(held.ringFingerprint).toBe(res.ringFingerprint);
    expect(res.atsStartTime).toBe(new Date(held.startTime * 1000).toISOString());
    expect(Number.isNaN(Date.parse(res.installedAt))).toBe(false);
    expect(keeper.status()).toEqual({ ready: true, reason: '', atsUp: true });
  });

  it('is not ready before any ring is accepted', async () => {
    const { keeper } = setup();
    await keeper.reconcile();
    expect(keeper.status()).toEqual({ ready: false, reason: 'no ring accepted yet', atsUp: true });
    expect(keeper.activeFingerprint()).toBeUndefined();
  });

  it('activeFingerprint() follows the accepted ring, as accepted() reports it', async () => {
    const { keeper } = setup();
    await keeper.put(ring(1, [newKey()]));
    expect(keeper.activeFingerprint()).toBe(keeper.accepted()?.activeFingerprint);
    const k2 = newKey();
    await keeper.put(ring(2, [k2, newKey()]));
    expect(keeper.activeFingerprint()).toBe(keeper.accepted()?.activeFingerprint);
    expect(keeper.activeFingerprint()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('treats a re-push of the accepted ring as unchanged (no second install)', async () => {
    const { bridge, keeper, metrics } = setup();
    const k1 = newKey();
    const first = await keeper.put(ring(1, [k1]));
    const second = await keeper.put(ring(1, [k1]));
    expect(bridge.installCalls).toBe(1);
    expect(second).toEqual(first);
    expect(await metric(metrics, 'tko_agent_ring_installs_total', { result: 'unchanged' })).toBe(1);
  });

  it('refuses an older generation with 409 and keeps ATS on the accepted ring', async () => {
    const { bridge, keeper } = setup();
    const k2 = newKey();
    await keeper.put(ring(2, [k2]));
    const err = await refusal(keeper.put(ring(1, [newKey()])));
    expect(err.status).toBe(409);
    expect(err.code).toBe('stale_generation');
    expect((await bridge.readInstalled()).ringFingerprint).toBe(ringFingerprint(k2));
    expect(bridge.installCalls).toBe(1);
  });

  it('refuses the accepted generation carrying another ring with 409', async () => {
    const { keeper } = setup();
    await keeper.put(ring(2, [newKey()]));
    const err = await refusal(keeper.put(ring(2, [newKey()])));
    expect(err.status).toBe(409);
    expect(err.message).toMatch(/already accepted for another ring/);
  });

  it('refuses a generation older than what ATS holds even after the agent forgot (agent restart)', async () => {
    const bridge = new MemoryBridge();
    const { logger } = capturedLogger();
    const first = new RingKeeper({ bridge, logger, metrics: new AgentMetrics() });
    await first.put(ring(5, [newKey()]));
    const restarted = new RingKeeper({ bridge, logger, metrics: new AgentMetrics() });
    const err = await refusal(restarted.put(ring(4, [newKey()])));
    expect(err.status).toBe(409);
    expect(err.message).toMatch(/ATS holds/);
  });

  it.each([
    ['an older', 1],
    ['the accepted', 12],
  ])('refuses a revoke with %s generation (409): a revoke never rolls ATS back', async (_name, generation) => {
    const { bridge, keeper } = setup();
    const k12 = newKey();
    await keeper.put(ring(12, [k12]));
    const err = await refusal(keeper.put(ring(generation, [newKey()], true)));
    expect([err.status, err.code]).toEqual([409, 'stale_generation']);
    const held = await bridge.readInstalled();
    expect([held.generation, held.ringFingerprint]).toEqual([12, ringFingerprint(k12)]);
    expect(bridge.installCalls).toBe(1);
    expect(keeper.accepted()?.generation).toBe(12);
  });

  it('refuses a revoke older than what ATS holds after the agent forgot (agent restart)', async () => {
    const bridge = new MemoryBridge();
    const { logger } = capturedLogger();
    await new RingKeeper({ bridge, logger, metrics: new AgentMetrics() }).put(ring(12, [newKey()]));
    const restarted = new RingKeeper({ bridge, logger, metrics: new AgentMetrics() });
    const err = await refusal(restarted.put(ring(1, [newKey()], true)));
    expect([err.status, err.code]).toEqual([409, 'stale_generation']);
    expect(err.message).toMatch(/ATS holds/);
    expect((await bridge.readInstalled()).generation).toBe(12);
  });

  it('refuses, after an agent restart, the generation ATS holds carrying another ring', async () => {
    const bridge = new MemoryBridge();
    const { logger } = capturedLogger();
    const k = newKey();
    await new RingKeeper({ bridge, logger, metrics: new AgentMetrics() }).put(ring(7, [k]));
    const restarted = new RingKeeper({ bridge, logger, metrics: new AgentMetrics() });
    const err = await refusal(restarted.put(ring(7, [newKey()])));
    expect([err.status, err.code]).toEqual([409, 'stale_generation']);
    expect((await bridge.readInstalled()).ringFingerprint).toBe(ringFingerprint(k));
    // The very ring ATS holds is an idempotent re-push.
    expect((await restarted.put(ring(7, [k]))).generation).toBe(7);
  });

  it('installs a revoke above the accepted generation, and ATS then holds it', async () => {
    const { bridge, keeper } = setup();
    await keeper.put(ring(5, [newKey()]));
    const k = newKey();
    const res = await keeper.put(ring(6, [k], true));
    expect(res.generation).toBe(6);
    const held = await bridge.readInstalled();
    expect([held.generation, held.ringFingerprint]).toEqual([6, ringFingerprint(k)]);
  });

  it('answers 503 with a retry hint while ATS is down, and ready turns false', async () => {
    const { bridge, keeper } = setup();
    await keeper.put(ring(1, [newKey()]));
    bridge.stop();
    const err = await refusal(keeper.put(ring(2, [newKey()])));
    expect([err.status, err.code, err.retryAfter]).toEqual([503, 'ats_unavailable', 1]);
    expect(keeper.status()).toEqual({ ready: false, reason: 'ATS unreachable', atsUp: false });
  });

  it('answers 504 when ATS does not show the ring before the deadline', async () => {
    const { bridge, keeper, metrics } = setup({ readbackDeadlineMs: 50 });
    const k1 = newKey();
    await keeper.put(ring(1, [k1]));
    bridge.dropInstalls = true;
    const err = await refusal(keeper.put(ring(2, [newKey()])));
    expect([err.status, err.code]).toEqual([504, 'readback_timeout']);
    expect(keeper.accepted()?.generation).toBe(1);
    expect(await metric(metrics, 'tko_agent_ring_installs_total', { result: 'readback_timeout' })).toBe(1);
  });

  it('adopts a ring whose read-back timed out once ATS shows it', async () => {
    const { bridge, keeper, metrics } = setup({ readbackDeadlineMs: 30 });
    await keeper.put(ring(1, [newKey()]));
    bridge.applyDelayMs = 150;
    const k2 = newKey();
    expect((await refusal(keeper.put(ring(2, [k2])))).status).toBe(504);
    await waitFor(async () => {
      await keeper.reconcile();
      return keeper.accepted()?.generation === 2;
    }, 'adoption of generation 2');
    expect(keeper.accepted()?.ringFingerprint).toBe(ringFingerprint(k2));
    expect(keeper.status().ready).toBe(true);
    expect(await metric(metrics, 'tko_agent_ring_reasserts_total', { result: 'adopted' })).toBe(1);
  });

  it('re-asserts the accepted ring after ATS restarts, not ready in between', async () => {
    const { bridge, keeper, metrics, lines } = setup();
    const keys = [newKey(), newKey()];
    const accepted = await keeper.put(ring(4, keys));
    bridge.stop();
    await keeper.reconcile();
    expect(keeper.status()).toEqual({ ready: false, reason: 'ATS unreachable', atsUp: false });
    bridge.start();
    await keeper.reconcile();
    const held = await bridge.readInstalled();
    expect([held.generation, held.ringFingerprint]).toEqual([4, accepted.ringFingerprint]);
    expect(keeper.status().ready).toBe(true);
    expect(await metric(metrics, 'tko_agent_ring_reasserts_total', { result: 'installed' })).toBe(1);
    expect(await metric(metrics, 'tko_agent_ats_restarts_total')).toBe(1);
    const text = lines.join('\n');
    expect(text).toContain('re-asserting accepted ring');
    for (const trace of keyTraces(keys)) expect(text).not.toContain(trace);
  });

  it('never overwrites a newer generation ATS holds: not ready with the reason, a metric and one warning', async () => {
    const { bridge, keeper, metrics, lines } = setup();
    const k12 = newKey();
    await keeper.put(ring(12, [k12]));
    const foreign = newKey();
    const huge = Number.MAX_SAFE_INTEGER;
    await bridge.install({ generation: huge, keys: [foreign], revoke: false }); // a process in the pod
    for (let i = 0; i < 3; i++) await keeper.reconcile();

    const held = await bridge.readInstalled();
    expect([held.generation, held.ringFingerprint]).toEqual([huge, ringFingerprint(foreign)]);
    expect(bridge.installCalls).toBe(2);
    expect(keeper.status()).toEqual({
      ready: false,
      reason: `ATS holds generation ${huge}, newer than the accepted generation 12; not rolled back`,
      atsUp: true,
    });
    expect(await metric(metrics, 'tko_agent_ats_generation_ahead')).toBe(huge);
    expect(await metric(metrics, 'tko_agent_ring_reasserts_total', { result: 'installed' })).toBe(0);
    expect(lines.filter((l) => l.includes('ATS holds a newer generation')).length).toBe(1);
    const view = await keeper.getRing();
    expect([view.ats.generation, view.accepted?.generation, view.inSync]).toEqual([huge, 12, false]);
    // The operator's next ring is older than that: refused, ATS untouched.
    expect((await refusal(keeper.put(ring(13, [newKey()])))).status).toBe(409);
    expect((await bridge.readInstalled()).generation).toBe(huge);
  });

  it('after a restart of ATS over a newer foreign ring, re-asserts the accepted ring again and clears the report', async () => {
    const { bridge, keeper, metrics } = setup();
    const k = newKey();
    await keeper.put(ring(3, [k]));
    await bridge.install({ generation: 40, keys: [newKey()], revoke: false });
    await keeper.reconcile();
    expect(keeper.status().ready).toBe(false);
    bridge.restart(); // generation 0: the foreign ring is gone with the process
    await keeper.reconcile();
    const held = await bridge.readInstalled();
    expect([held.generation, held.ringFingerprint]).toEqual([3, ringFingerprint(k)]);
    expect(keeper.status()).toEqual({ ready: true, reason: '', atsUp: true });
    expect(await metric(metrics, 'tko_agent_ats_generation_ahead')).toBe(0);
  });

  it('re-asserts over another ring at the accepted generation (the only equal-generation install)', async () => {
    const { bridge, keeper } = setup();
    const k1 = newKey();
    await keeper.put(ring(2, [k1]));
    const install = bridge.install.bind(bridge);
    const flags: Array<{ generation: number; revoke: boolean; reassert: boolean | undefined }> = [];
    bridge.install = async (r) => {
      flags.push({ generation: r.generation, revoke: r.revoke, reassert: r.reassert });
      await install(r);
    };
    await bridge.install({ generation: 2, keys: [newKey()], revoke: false, reassert: true }); // a foreign ring, same generation
    expect((await bridge.readInstalled()).ringFingerprint).not.toBe(ringFingerprint(k1));
    await keeper.reconcile();
    const held = await bridge.readInstalled();
    expect([held.generation, held.ringFingerprint]).toEqual([2, ringFingerprint(k1)]);
    expect(flags.at(-1)).toEqual({ generation: 2, revoke: false, reassert: true });
    expect(keeper.status().ready).toBe(true);
  });

  it('re-asserts an accepted revoke ring after an ATS restart without the revoke flag', async () => {
    const { bridge, keeper } = setup();
    await keeper.put(ring(1, [newKey()]));
    const k = newKey();
    await keeper.put(ring(2, [k], true));
    const install = bridge.install.bind(bridge);
    const sent: Array<{ revoke: boolean; reassert: boolean | undefined }> = [];
    bridge.install = async (r) => {
      sent.push({ revoke: r.revoke, reassert: r.reassert });
      await install(r);
    };
    bridge.restart();
    await keeper.reconcile();
    expect((await bridge.readInstalled()).ringFingerprint).toBe(ringFingerprint(k));
    expect(sent).toEqual([{ revoke: false, reassert: false }]);
  });

  it('exports the plugin\'s mlock failure as a metric', async () => {
    const { bridge, keeper, metrics } = setup();
    const read = bridge.readInstalled.bind(bridge);
    bridge.readInstalled = async () => ({ ...(await read()), mlockFailed: true });
    await keeper.reconcile();
    expect(await metric(metrics, 'tko_agent_plugin_mlock_failed')).toBe(1);
    bridge.readInstalled = async () => ({ ...(await read()), mlockFailed: false });
    await keeper.reconcile();
    expect(await metric(metrics, 'tko_agent_plugin_mlock_failed')).toBe(0);
  });

  it('zeroes the bytes of a ring it replaces, refuses, or holds when closed', async () => {
    const { keeper, bridge } = setup({ readbackDeadlineMs: 20 });
    const r1 = ring(1, [newKey()]);
    await keeper.put(r1);
    const r2 = ring(2, [newKey(), newKey()]);
    await keeper.put(r2);
    expect(r1.keys.every((k) => k.every((b) => b === 0))).toBe(true);
    const stale = ring(1, [newKey()]);
    await refusal(keeper.put(stale));
    expect(stale.keys[0]!.every((b) => b === 0)).toBe(true);
    bridge.dropInstalls = true;
    const pending = ring(3, [newKey()]);
    await refusal(keeper.put(pending));
    const later = ring(4, [newKey()]);
    await refusal(keeper.put(later));
    expect(pending.keys[0]!.every((b) => b === 0)).toBe(true);
    await keeper.close();
    for (const r of [r2, later]) expect(r.keys.every((k) => k.every((b) => b === 0))).toBe(true);
  });

  it('installs one ring at a time, in arrival order', async () => {
    const { bridge, keeper } = setup();
    const order: number[] = [];
    const install = bridge.install.bind(bridge);
    let inFlight = 0;
    let maxInFlight = 0;
    bridge.install = async (r) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      order.push(r.generation);
      await new Promise((res) => setTimeout(res, 5));
      await install(r);
      inFlight--;
    };
    await Promise.all([1, 2, 3, 4].map((g) => keeper.put(ring(g, [newKey()]))));
    expect(order).toEqual([1, 2, 3, 4]);
    expect(maxInFlight).toBe(1);
    expect((await bridge.readInstalled()).generation).toBe(4);
  });

  it('getRing reports ATS, the accepted ring and whether they agree', async () => {
    const { bridge, keeper } = setup();
    const before = await keeper.getRing();
    expect([before.accepted, before.inSync, before.ats.generation]).toEqual([null, false, 0]);
    const k1 = newKey();
    const k2 = newKey();
    await keeper.put(ring(3, [k1, k2]));
    const after = await keeper.getRing();
    expect(after.inSync).toBe(true);
    expect(after.ats).toMatchObject({ generation: 3, keyCount: 2, ringFingerprint: ringFingerprint(Buffer.concat([k1, k2])) });
    expect(after.accepted).toMatchObject({ generation: 3, keyFingerprints: ring(3, [k1, k2]).keyFingerprints });
    bridge.restart();
    expect((await keeper.getRing()).inSync).toBe(false);
  });
});

describe('RingKeeper: ATS ticket counters in GET /v1/ring', () => {
  it('reports the bridge\'s counters as `tls`, valid per TlsTicketCounters', async () => {
    const { bridge, keeper } = setup();
    bridge.tlsTicketStats = { ticketsNotFound: 4, ticketsVerifiedOldKey: 9 };
    const got = await keeper.getRing();
    expect(got.tls).toEqual({ ticketsNotFound: 4, ticketsVerifiedOldKey: 9 });
    expect(Value.Check(TlsTicketCounters, got.tls)).toBe(true);
  });

  it('leaves `tls` out when the bridge cannot read them, or has no such method, and still answers', async () => {
    const { bridge, keeper } = setup();
    bridge.tlsTicketStats = null;
    const got = await keeper.getRing();
    expect(got).not.toHaveProperty('tls');
    expect(got.ats.generation).toBe(0);
    const plain = new MemoryBridge();
    Object.defineProperty(plain, 'readTlsTicketStats', { value: undefined });
    const keeper2 = new RingKeeper({ bridge: plain, logger: capturedLogger().logger, metrics: new AgentMetrics() });
    expect(await keeper2.getRing()).not.toHaveProperty('tls');
  });

  it('never reports values that are not counters', async () => {
    const { bridge, keeper } = setup();
    bridge.tlsTicketStats = { ticketsNotFound: -1, ticketsVerifiedOldKey: 0 };
    expect(await keeper.getRing()).not.toHaveProperty('tls');
  });

  it('starts again from 0 when ATS restarts, like ATS\'s own stats', async () => {
    const { bridge, keeper } = setup();
    bridge.tlsTicketStats = { ticketsNotFound: 4, ticketsVerifiedOldKey: 9 };
    bridge.restart();
    expect((await keeper.getRing()).tls).toEqual({ ticketsNotFound: 0, ticketsVerifiedOldKey: 0 });
  });
});
