// The mTLS API over real HTTPS on loopback (memory bridge): every status code of the protocol.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Agent as UndiciAgent } from 'undici';
import { BODY_LIMIT_BYTES } from '../../../src/agent/protocol.ts';
import { ringFingerprint } from '../../../src/core/fingerprint.ts';
import { keyTraces, newKey } from '../../fixtures/keys.ts';
import { operatorDispatcher, ringBody, startTestAgent, waitFor, type TestAgent } from './fixtures.ts';
import { agentError } from '../../../dev/agent-process.ts';

let t: TestAgent;
let raw: UndiciAgent;
/** Every key any test pushed, to prove none comes back in a response or a log line. */
const pushed: Buffer[] = [];
const responses: string[] = [];

function key(): Buffer {
  const k = newKey();
  pushed.push(k);
  return k;
}

async function send(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: string, contentType = 'application/json') {
  const res = await raw.request({
    origin: t.baseUrl,
    path,
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body ?? null,
  });
  const text = await res.body.text();
  responses.push(text);
  return { status: res.statusCode, headers: res.headers, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}


beforeAll(async () => {
  t = await startTestAgent();
  raw = await operatorDispatcher();
});

afterAll(async () => {
  await raw.close();
  await t.close();
});

describe('PUT /v1/ring', () => {
  it('200: installs the ring and answers with its fingerprints', async () => {
    const k1 = key();
    const res = await t.client.putRing(ringBody(1, [k1]));
    expect(res).toMatchObject({ generation: 1, ringFingerprint: ringFingerprint(k1) });
    expect((await t.bridge.readInstalled()).ringFingerprint).toBe(ringFingerprint(k1));
    responses.push(JSON.stringify(res));
  });

  it.each([
    ['invalid JSON', '{"generation": 2, "keys": [', /not valid JSON/],
    ['an empty JSON body', '', /body is empty/],
    ['a JSON array', '[]', /invalid ring/],
    ['a ring with no keys', JSON.stringify({ generation: 2, keys: [] }), /\/keys/],
  ])('400: %s', async (_name, body, message) => {
    const res = await send('PUT', '/v1/ring', body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'bad_request', message: expect.stringMatching(message) });
  });

  it('400: a 47-byte key, and ATS keeps its ring', async () => {
    const before = await t.bridge.readInstalled();
    const res = await send('PUT', '/v1/ring', JSON.stringify(ringBody(50, [key().subarray(0, 47)])));
    expect(res.status).toBe(400);
    expect(res.json?.message).toMatch(/exactly 48 bytes/);
    expect(await t.bridge.readInstalled()).toEqual(before);
  });

  it('400: a fingerprint that does not match the material', async () => {
    const body = ringBody(50, [key()]);
    body.keys[0]!.fingerprint = ringBody(1, [key()]).keys[0]!.fingerprint;
    const err = await agentError(t.client.putRing(body));
    expect([err.status, err.code]).toEqual([400, 'bad_request']);
    expect(err.message).toMatch(/fingerprint does not match/);
  });

  it('400: invalid JSON that quotes key material is answered without it', async () => {
    const k = key();
    const res = await send('PUT', '/v1/ring', `{"generation":2,"keys":[{"material":"${k.toString('base64')}"`);
    expect(res.status).toBe(400);
    for (const trace of keyTraces([k])) expect(res.text).not.toContain(trace);
  });

  it('409: a stale generation; ATS keeps the newer ring', async () => {
    const k3 = key();
    await t.client.putRing(ringBody(3, [k3]));
    const err = await agentError(t.client.putRing(ringBody(2, [key()])));
    expect([err.status, err.code]).toEqual([409, 'stale_generation']);
    expect((await t.bridge.readInstalled()).ringFingerprint).toBe(ringFingerprint(k3));
  });

  it('409: a stale generation with revoke (a revoke never rolls back); ATS keeps the newer ring', async () => {
    const k4 = key();
    await t.client.putRing(ringBody(4, [k4]));
    const err = await agentError(t.client.putRing(ringBody(2, [key()], { revoke: true })));
    expect([err.status, err.code]).toEqual([409, 'stale_generation']);
    expect((await t.bridge.readInstalled()).ringFingerprint).toBe(ringFingerprint(k4));
  });

  it('413: a body over the size limit, before it is parsed', async () => {
    const res = await send('PUT', '/v1/ring', JSON.stringify({ generation: 9, pad: 'x'.repeat(BODY_LIMIT_BYTES) }));
    expect(res.status).toBe(413);
    expect(res.json).toEqual({ error: 'payload_too_large', message: 'body exceeds the size limit' });
  });

  it('413: a chunked body (no content-length) that grows over the limit', async () => {
    const chunk = Buffer.alloc(1024, 0x20);
    const res = await raw.request({
      origin: t.baseUrl,
      path: '/v1/ring',
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: Readable.from((function* () {
        for (let i = 0; i < 64; i++) yield chunk;
      })()),
    });
    expect(res.statusCode).toBe(413);
    expect(await res.body.json()).toEqual({ error: 'payload_too_large', message: 'body exceeds the size limit' });
  });

  it('415: a body that is not JSON', async () => {
    const res = await send('PUT', '/v1/ring', 'generation=4', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(415);
    expect(res.json?.error).toBe('unsupported_media_type');
  });

  it('503 with Retry-After while ATS is down', async () => {
    t.bridge.stop();
    try {
      const res = await send('PUT', '/v1/ring', JSON.stringify(ringBody(10, [key()])));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json?.error).toBe('ats_unavailable');
      const err = await agentError(t.client.putRing(ringBody(10, [key()])));
      expect([err.status, err.code, err.retryAfterSeconds]).toEqual([503, 'ats_unavailable', 1]);
    } finally {
      t.bridge.start();
    }
  });

  it('504 when ATS never shows the ring', async () => {
    t.bridge.dropInstalls = true;
    try {
      const err = await agentError(t.client.putRing(ringBody(20, [key()])));
      expect([err.status, err.code]).toEqual([504, 'readback_timeout']);
    } finally {
      t.bridge.dropInstalls = false;
    }
  });
});

describe('GET /v1/ring', () => {
  it('reports what ATS holds and the accepted ring', async () => {
    const k = key();
    const put = await t.client.putRing(ringBody(30, [k, key()]));
    const got = await t.client.getRing();
    expect(got.inSync).toBe(true);
    expect(got.ats).toMatchObject({ generation: 30, keyCount: 2, ringFingerprint: put.ringFingerprint, startTime: put.atsStartTime });
    expect(got.accepted).toMatchObject({ generation: 30, activeFingerprint: put.activeFingerprint });
    responses.push(JSON.stringify(got));
  });

  it('503 while ATS is down', async () => {
    t.bridge.stop();
    try {
      const err = await agentError(t.client.getRing());
      expect([err.status, err.code]).toEqual([503, 'ats_unavailable']);
    } finally {
      t.bridge.start();
    }
  });
});

describe('session cache', () => {
  it('flush removes every tracked session and reports the counters', async () => {
    t.bridge.addSession('aa01');
    t.bridge.addSession('bb02');
    const before = await t.client.sessionCacheStats();
    const after = await t.client.flushSessionCache();
    expect(before.tracked).toBe(2);
    expect(after).toEqual({ tracked: 0, removed: before.removed + 2, flushes: before.flushes + 1 });
    expect(t.bridge.hasSession('aa01')).toBe(false);
  });

  it('flush answers 504 when ATS never reports it', async () => {
    const flush = t.bridge.flushSessionCache;
    t.bridge.flushSessionCache = async () => undefined; // delivered, never applied
    try {
      const err = await agentError(t.client.flushSessionCache());
      expect([err.status, err.code]).toEqual([504, 'readback_timeout']);
    } finally {
      t.bridge.flushSessionCache = flush;
    }
  });

  it('DELETE removes one session id (204)', async () => {
    t.bridge.addSession('c0ffee');
    t.bridge.addSession('d00d');
    await t.client.removeSession('C0FFEE');
    expect([t.bridge.hasSession('c0ffee'), t.bridge.hasSession('d00d')]).toEqual([false, true]);
  });

  it.each(['xyz', 'abc', 'aa'.repeat(33)])('DELETE refuses the session id %s with 400', async (id) => {
    const err = await agentError(t.client.removeSession(id));
    expect([err.status, err.code]).toEqual([400, 'bad_request']);
  });

  it('503 while ATS is down', async () => {
    t.bridge.stop();
    try {
      const err = await agentError(t.client.flushSessionCache());
      expect([err.status, err.code, err.retryAfterSeconds]).toEqual([503, 'ats_unavailable', 1]);
    } finally {
      t.bridge.start();
    }
  });
});

describe('other routes', () => {
  it('404 as JSON for an unknown route', async () => {
    const res = await send('GET', '/v1/keys');
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: 'not_found', message: 'no such route' });
  });

  it('serves /healthz and /readyz on the mTLS listener too', async () => {
    expect((await send('GET', '/healthz')).json).toEqual({ status: 'ok' });
    // An earlier test bounced ATS: readiness returns once the agent re-asserted its ring.
    await waitFor(async () => (await send('GET', '/readyz')).status === 200, 'readiness over mTLS');
    expect(await send('GET', '/readyz')).toMatchObject({ status: 200, json: { status: 'ok' } });
  });
});

describe('secrecy', () => {
  it('no response and no log line contains key material', () => {
    const traces = keyTraces(pushed);
    const text = [...responses, ...t.lines].join('\n');
    expect(pushed.length).toBeGreaterThan(10);
    expect(t.lines.some((l) => l.includes('ring accepted'))).toBe(true);
    for (const trace of traces) expect(text).not.toContain(trace);
  });
});
