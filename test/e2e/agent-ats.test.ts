// The agent against a real ATS 9 with the bridge plugin, proven by real TLS clients that
// resume sessions: a `tko agent` process, the operator's client, and the ticket key names
// inside the tickets ATS issues.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Agent as UndiciAgent } from 'undici';
import { AgentClient, createAgentDispatcher } from '../../src/agent/client.ts';
import { BODY_LIMIT_BYTES, OPERATOR_IDENTITY, type KeyState, type PutRingRequest } from '../../src/agent/protocol.ts';
import { keyFingerprint, ringFingerprint } from '../../src/core/fingerprint.ts';
import { createCa, issueCert } from '../../src/dev/certs.ts';
import { agentError, startAtsWithAgent, type AtsWithAgent } from '../../dev/agent-process.ts';
import { tlsProbe, type TlsVersion } from '../../dev/tls-probe.ts';
import { keyName, keyTraces, newKey as randomKey } from '../fixtures/keys.ts';

const ADDR = '127.0.0.61';
let env: AtsWithAgent;
let raw: UndiciAgent;
let generation = 0;
const pushed: Buffer[] = [];

function newKey(): Buffer {
  const k = randomKey();
  pushed.push(k);
  return k;
}

function ring(keys: Buffer[], states?: KeyState[], gen = ++generation): PutRingRequest {
  return {
    generation: gen,
    keys: keys.map((k, i) => ({ fingerprint: keyFingerprint(k), material: k.toString('base64'), state: states?.[i] ?? (i === 0 ? 'active' : 'staged') })),
  };
}

/** A fresh full handshake: the session and the key name of its ticket. */
async function freshTicket(tls: TlsVersion = '1.3'): Promise<{ session: Buffer; keyName: string | undefined }> {
  const r = await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls });
  expect(r.resumed).toBe(false);
  return { session: r.newSession!, keyName: r.ticketKeyName };
}

async function resumes(session: Buffer, tls: TlsVersion = '1.3'): Promise<boolean> {
  return (await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls, session })).resumed;
}


beforeAll(async () => {
  env = await startAtsWithAgent({ addr: ADDR });
  raw = createAgentDispatcher({ ca: env.certs.ca.cert, cert: env.certs.operator.cert, key: env.certs.operator.key });
});

afterAll(async () => {
  await raw?.close();
  await env?.stop();
});

describe.each(['1.3', '1.2'] as const)('key rotation through the agent, TLS %s', (tls) => {
  it('install K1, stage K2, promote K2, drop K1: tickets follow the ring', async () => {
    const k1 = newKey();
    const k2 = newKey();

    const installed = await env.client.putRing(ring([k1]));
    expect(installed.ringFingerprint).toBe(ringFingerprint(k1));
    const t1 = await freshTicket(tls);
    expect(t1.keyName).toBe(keyName(k1));
    expect(await resumes(t1.session, tls)).toBe(true);

    await env.client.putRing(ring([k1, k2], ['active', 'staged']));
    expect(await resumes(t1.session, tls)).toBe(true);
    expect((await freshTicket(tls)).keyName).toBe(keyName(k1));

    await env.client.putRing(ring([k2, k1], ['active', 'retired']));
    expect(await resumes(t1.session, tls)).toBe(true);
    const t2 = await freshTicket(tls);
    expect(t2.keyName).toBe(keyName(k2));

    await env.client.putRing(ring([k2]));
    expect(await resumes(t1.session, tls)).toBe(false);
    expect(await resumes(t2.session, tls)).toBe(true);
  });
});

describe('refused rings leave ATS on its keys', () => {
  let current: Buffer;
  let ticket: Buffer;

  beforeAll(async () => {
    current = newKey();
    await env.client.putRing(ring([current]));
    ticket = (await freshTicket()).session;
  });

  async function send(body: string): Promise<number> {
    const res = await raw.request({ origin: env.agent.baseUrl, path: '/v1/ring', method: 'PUT', headers: { 'content-type': 'application/json' }, body });
    await res.body.text();
    return res.statusCode;
  }

  const cases: Array<[string, () => string, number]> = [
    ['malformed JSON', () => `{"generation": ${generation + 1}, "keys": [{"material": "`, 400],
    ['an empty ring', () => JSON.stringify({ generation: generation + 1, keys: [] }), 400],
    ['a 47-byte key', () => JSON.stringify(ring([newKey().subarray(0, 47)], undefined, generation + 1)), 400],
    ['a key whose fingerprint does not match', () => JSON.stringify({ ...ring([newKey()], undefined, generation + 1), keys: [{ ...ring([newKey()], undefined, 1).keys[0]!, fingerprint: keyFingerprint(newKey()) }] }), 400],
    ['a stale generation', () => JSON.stringify(ring([newKey()], undefined, generation - 1)), 409],
    ['an oversize body', () => JSON.stringify({ ...ring([newKey()], undefined, generation + 1), pad: 'x'.repeat(BODY_LIMIT_BYTES) }), 413],
  ];

  it.each(cases)('%s is refused and the previous ticket still resumes', async (_name, body, status) => {
    const before = await env.client.getRing();
    expect(await send(body())).toBe(status);
    const after = await env.client.getRing();
    expect(after.ats).toEqual(before.ats);
    expect(await resumes(ticket)).toBe(true);
    expect((await freshTicket()).keyName).toBe(keyName(current));
  });

  // Status 0: the agent refused the TLS handshake, so no HTTP answer came.
  it.each([
    ['no client certificate', async () => ({ cert: '', key: '' }), 0],
    ['a certificate from another CA', async () => issueCert(await createCa({ commonName: 'foreign' }), { commonName: OPERATOR_IDENTITY, usage: 'client' }), 0],
    ['the right CA but another identity', async () => issueCert(env.certs.ca, { commonName: 'not-the-operator', usage: 'client' }), 403],
  ])('%s cannot push a ring, and ATS keeps its keys', async (_name, make, status) => {
    const intruder = new AgentClient({ baseUrl: env.agent.baseUrl, tls: { ca: env.certs.ca.cert, ...(await make()) } });
    try {
      const err = await agentError(intruder.putRing(ring([newKey()], undefined, generation + 1)));
      expect(err.status).toBe(status);
    } finally {
      await intruder.close();
    }
    expect(await resumes(ticket)).toBe(true);
    expect((await freshTicket()).keyName).toBe(keyName(current));
  });
});

describe('session cache through the agent', () => {
  beforeAll(async () => {
    await env.client.putRing(ring([newKey()]));
  });

  async function sessionIdSession(): Promise<{ session: Buffer; id: string }> {
    const r = await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls: '1.2', sessionIdOnly: true });
    expect(r.sessionId).toBeDefined();
    return { session: r.newSession!, id: r.sessionId! };
  }

  const resumesById = async (session: Buffer) =>
    (await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls: '1.2', sessionIdOnly: true, session })).resumed;

  it('a TLS 1.2 session id resumes until the cache is flushed', async () => {
    const s = await sessionIdSession();
    expect(await resumesById(s.session)).toBe(true);
    const stats = await env.client.flushSessionCache();
    expect(stats.tracked).toBe(0);
    expect(await resumesById(s.session)).toBe(false);
  });

  it('DELETE removes exactly one session id', async () => {
    const a = await sessionIdSession();
    const b = await sessionIdSession();
    await env.client.removeSession(a.id);
    expect(await resumesById(a.session)).toBe(false);
    expect(await resumesById(b.session)).toBe(true);
  });
});

describe('secrecy', () => {
  it('the agent logged no key material', () => {
    const logs = env.agent.logs().join('\n');
    expect(logs).toContain('ring accepted');
    for (const k of pushed) {
      for (const trace of keyTraces([k])) expect(logs).not.toContain(trace);
    }
  });
});
