// Generations never go backwards on a pod, through the agent or around it (issue 8): a real
// `tko agent` beside a real ATS. A revoke PUT with an older generation is refused and ATS keeps
// its ring; a ring a process in the pod pushes straight to the plugin with a huge generation is
// never rolled back by the agent's re-assert loop: the agent reports it (not ready, reason,
// metric, GET /v1/ring) so the operator flags that pod. An ATS restart clears it and the agent
// puts its accepted ring back.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeRingFrame, RING_TAG } from '../../src/agent/ats9/plugin-protocol.ts';
import type { PutRingRequest } from '../../src/agent/protocol.ts';
import { keyFingerprint, ringFingerprint } from '../../src/core/fingerprint.ts';
import { agentError, startAtsWithAgent, type AtsWithAgent } from '../../dev/agent-process.ts';
import { keyRenderings, sendRawMessage, waitFor } from '../helpers/ats.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';
import { keyName, newKey as randomKey } from '../fixtures/keys.ts';

const ADDR = '127.0.40.2';
const REASSERT_INTERVAL_MS = 200;
const HUGE = Number.MAX_SAFE_INTEGER; // 2^53-1: the generation of the hostile pod

let env: AtsWithAgent;
const used: Buffer[] = [];

function newKey(): Buffer {
  const k = randomKey();
  used.push(k);
  return k;
}

function ring(generation: number, keys: Buffer[], revoke?: boolean): PutRingRequest {
  return {
    generation,
    keys: keys.map((k, i) => ({ fingerprint: keyFingerprint(k), material: k.toString('base64'), state: i === 0 ? 'active' : 'retired' })),
    ...(revoke === undefined ? {} : { revoke }),
  };
}

async function newTicketKeyName(): Promise<string | undefined> {
  return (await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls: '1.3' })).ticketKeyName;
}

async function metric(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${env.agent.healthUrl}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function readyz(): Promise<{ code: number; reason: string | undefined }> {
  const res = await fetch(`${env.agent.healthUrl}/readyz`);
  return { code: res.status, reason: ((await res.json()) as { reason?: string }).reason };
}

beforeAll(async () => {
  env = await startAtsWithAgent({ addr: ADDR, agent: { reassertIntervalMs: REASSERT_INTERVAL_MS } });
});

afterAll(async () => {
  await env?.stop();
});

describe('no rollback on a pod', () => {
  const k12 = newKey();

  it('a revoke PUT with generation 1 to an agent holding 12 is refused (409); ATS keeps 12', async () => {
    await env.client.putRing(ring(12, [k12]));
    const rejectedBefore = (await env.client.getRing()).ats.rejected;

    const err = await agentError(env.client.putRing(ring(1, [newKey()], true)));
    expect([err.status, err.code]).toEqual([409, 'stale_generation']);

    const now = await env.client.getRing();
    expect(now.ats).toMatchObject({ generation: 12, ringFingerprint: ringFingerprint(k12), rejected: rejectedBefore });
    expect(now.inSync).toBe(true);
    expect(await newTicketKeyName()).toBe(keyName(k12));
    // The plugin's mlock of its key store worked (root here), and the agent exports what it published.
    expect(await metric('tko_agent_plugin_mlock_failed')).toBe(0);
  });

  it('a huge generation pushed straight to the plugin is not rolled back: the agent reports it', async () => {
    const foreign = newKey();
    const frame = encodeRingFrame({ generation: HUGE, keys: [foreign] });
    try {
      await sendRawMessage(env.ats, RING_TAG, frame); // what any process in the pod can do
    } finally {
      frame.fill(0);
    }

    // The agent notices at its next tick and says why it is not ready...
    await waitFor(async () => (await readyz()).code === 503, 'agent not ready');
    expect((await readyz()).reason).toBe(`ATS holds generation ${HUGE}, newer than the accepted generation 12; not rolled back`);
    expect(await metric('tko_agent_ats_generation_ahead')).toBe(HUGE);
    // ...and leaves ATS alone, tick after tick (several re-assert intervals).
    const reassertsBefore = await metric('tko_agent_ring_reasserts_total{result="installed"}');
    await sleep(10 * REASSERT_INTERVAL_MS);
    expect(await metric('tko_agent_ring_reasserts_total{result="installed"}')).toBe(reassertsBefore);

    // GET /v1/ring: what the operator reads, and screens as this pod's error.
    const view = await env.client.getRing();
    expect(view.ats).toMatchObject({ generation: HUGE, ringFingerprint: ringFingerprint(foreign) });
    expect(view.accepted?.generation).toBe(12);
    expect(view.inSync).toBe(false);
    expect(await newTicketKeyName()).toBe(keyName(foreign));

    // The operator's next ring is older than that: refused, ATS untouched.
    const err = await agentError(env.client.putRing(ring(13, [newKey()])));
    expect([err.status, err.code]).toEqual([409, 'stale_generation']);
    expect((await env.client.getRing()).ats.generation).toBe(HUGE);

    const warnings = env.agent.logs().filter((l) => l.includes('ATS holds a newer generation than the accepted ring'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 'warn', generation: 12, atsGeneration: HUGE });
  });

  it('after an ATS restart (the foreign ring gone), the agent re-asserts generation 12 and is ready again', async () => {
    await env.ats.restart();
    await waitFor(async () => (await readyz()).code === 200, 'agent ready again');
    const view = await env.client.getRing();
    expect(view.ats).toMatchObject({ generation: 12, ringFingerprint: ringFingerprint(k12) });
    expect(view.inSync).toBe(true);
    expect(await metric('tko_agent_ats_generation_ahead')).toBe(0);
    expect(await newTicketKeyName()).toBe(keyName(k12));
  });

  it('no key bytes in the agent log', () => {
    const text = env.agent.logs().join('\n');
    for (const k of used) for (const r of keyRenderings(k)) expect(text.includes(r)).toBe(false);
  });
});
