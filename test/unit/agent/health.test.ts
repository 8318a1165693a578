// The plain-HTTP listener kubelet and Prometheus use: readiness follows "ATS holds the last
// accepted ring", driven by the re-assert loop.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ringFingerprint } from '../../../src/core/fingerprint.ts';
import { keyTraces, newKey } from '../../fixtures/keys.ts';
import { ringBody, startTestAgent, waitFor, type TestAgent } from './fixtures.ts';

let t: TestAgent;

async function get(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${t.healthUrl}${path}`);
  return { status: res.status, text: await res.text() };
}

async function readyz(): Promise<{ status: number; body: unknown }> {
  const r = await get('/readyz');
  return { status: r.status, body: JSON.parse(r.text) };
}

beforeAll(async () => {
  t = await startTestAgent({ reassertIntervalMs: 20 });
});

afterAll(async () => {
  await t.close();
});

describe('health listener', () => {
  const keys = [newKey(), newKey()];

  it('/healthz answers 200 without a client certificate', async () => {
    expect(await get('/healthz')).toEqual({ status: 200, text: '{"status":"ok"}' });
  });

  it('/readyz is 503 before any ring is accepted', async () => {
    expect(await readyz()).toEqual({ status: 503, body: { status: 'not-ready', reason: 'no ring accepted yet' } });
  });

  it('/readyz is 200 once ATS holds the accepted ring', async () => {
    await t.client.putRing(ringBody(1, keys));
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('/readyz is 503 while ATS is down, then 200 after the agent re-asserted the ring', async () => {
    t.bridge.stop();
    await waitFor(async () => (await readyz()).status === 503, '/readyz 503 while ATS is down');
    expect((await readyz()).body).toEqual({ status: 'not-ready', reason: 'ATS unreachable' });
    t.bridge.start();
    await waitFor(async () => (await readyz()).status === 200, '/readyz 200 after the re-assert');
    const held = await t.bridge.readInstalled();
    expect([held.generation, held.ringFingerprint]).toEqual([1, ringFingerprint(Buffer.concat(keys))]);
  });

  it('/readyz is 503 while the re-assert cannot land, 200 once it does', async () => {
    t.bridge.dropInstalls = true;
    t.bridge.restart();
    await waitFor(async () => (await readyz()).status === 503, '/readyz 503 after a restart');
    expect((await readyz()).body).toEqual({ status: 'not-ready', reason: 'ATS does not hold the accepted ring' });
    t.bridge.dropInstalls = false;
    await waitFor(async () => (await readyz()).status === 200, '/readyz 200 after the re-assert');
  });

  it('/metrics exposes installs, rejections, latency, re-asserts and ATS up, and no key bytes', async () => {
    await t.client.putRing(ringBody(1, [newKey()])).catch(() => undefined); // a 409
    const { status, text } = await get('/metrics');
    expect(status).toBe(200);
    expect(text).toMatch(/^tko_agent_ring_installs_total\{result="installed"\} 1$/m);
    expect(text).toMatch(/^tko_agent_rejections_total\{reason="stale_generation"\} 1$/m);
    expect(text).toMatch(/^tko_agent_ring_install_duration_seconds_count 1$/m);
    expect(text).toMatch(/^tko_agent_ring_reasserts_total\{result="installed"\} 2$/m);
    expect(text).toMatch(/^tko_agent_ats_restarts_total 2$/m);
    expect(text).toMatch(/^tko_agent_ats_up 1$/m);
    expect(text).toMatch(/^tko_agent_ready 1$/m);
    expect(text).toMatch(/^tko_agent_accepted_generation 1$/m);
    for (const trace of keyTraces(keys)) expect(text).not.toContain(trace);
  });

  it('does not serve the ring API', async () => {
    const res = await fetch(`${t.healthUrl}/v1/ring`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(404);
  });
});
