// ATS loses pushed keys when traffic_server restarts (or crashes and traffic_manager relaunches
// it). The agent notices, installs its last accepted ring again, and is not ready meanwhile.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PutRingRequest } from '../../src/agent/protocol.ts';
import { keyFingerprint } from '../../src/core/fingerprint.ts';
import { startAtsWithAgent, type AtsWithAgent } from '../../dev/agent-process.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';
import { keyName, newKey } from '../fixtures/keys.ts';

const ADDR = '127.0.0.62';
let env: AtsWithAgent;

function ring(generation: number, keys: Buffer[]): PutRingRequest {
  return {
    generation,
    keys: keys.map((k, i) => ({ fingerprint: keyFingerprint(k), material: k.toString('base64'), state: i === 0 ? 'active' : 'retired' })),
  };
}

async function readyz(): Promise<number> {
  return (await fetch(`${env.agent.healthUrl}/readyz`)).status;
}

/** Polls /readyz while `action` runs, then until ready again; returns every status seen. */
async function readinessAround(action: () => Promise<void>): Promise<number[]> {
  const seen: number[] = [];
  let running = true;
  const poller = (async () => {
    while (running) {
      seen.push(await readyz());
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    await action();
    const end = Date.now() + 15_000;
    while (seen.at(-1) !== 200 && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  } finally {
    running = false;
    await poller;
  }
  return seen;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${env.agent.healthUrl}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  env = await startAtsWithAgent({ addr: ADDR });
});

afterAll(async () => {
  await env?.stop();
});

describe.each([
  ['traffic_server restart', () => env.ats.restart()],
  ['traffic_server crash (SIGKILL, relaunched by traffic_manager)', () => env.ats.killProxy()],
])('%s', (_name, bounce) => {
  it('the agent re-asserts its ring, the old ticket resumes again, and /readyz is false in between', async () => {
    const k = newKey();
    const generation = Date.now(); // newer than any earlier case in this file
    await env.client.putRing(ring(generation, [k, newKey()]));
    expect(await readyz()).toBe(200);
    const first = await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls: '1.3' });
    expect(first.ticketKeyName).toBe(keyName(k));
    const reassertsBefore = await metric('tko_agent_ring_reasserts_total{result="installed"}');
    const startBefore = (await env.client.getRing()).ats.startTime;

    const seen = await readinessAround(bounce);

    expect(seen).toContain(503);
    expect(seen.at(-1)).toBe(200);
    const now = await env.client.getRing();
    expect(now.ats.startTime).not.toBe(startBefore);
    expect(now.ats.generation).toBe(generation);
    expect(now.inSync).toBe(true);
    expect(await metric('tko_agent_ring_reasserts_total{result="installed"}')).toBe(reassertsBefore + 1);
    expect((await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls: '1.3', session: first.newSession })).resumed).toBe(true);
  });
});
