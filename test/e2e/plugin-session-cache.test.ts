// ATS's own TLS session cache (proxy.config.ssl.session_cache 2) under the plugin's control:
// TLS 1.2 clients that resume by session id (no tickets, like `openssl s_client -no_ticket`).
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendRawMessage, useTestAts, waitForStats } from '../helpers/ats.ts';
import { tlsProbe, type TlsProbeResult } from '../../dev/tls-probe.ts';

const ADDR = '127.0.0.45';

/** Runs a command with stdin closed (s_client then closes the connection) and returns stdout. */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 10000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end();
  });
}

const env = useTestAts(ADDR);

const idOnly = (session?: Buffer) => tlsProbe({ host: ADDR, port: env.ats.tlsPort, tls: '1.2', sessionIdOnly: true, session });

/** A new cached session, once the plugin has tracked it. */
async function newCachedSession(): Promise<TlsProbeResult> {
  const before = await env.bridge.sessionCacheStats();
  const s = await idOnly();
  expect(s.ticketKeyName).toBeUndefined(); // no ticket: the server cache is the only way back
  expect(s.sessionId).toMatch(/^[0-9a-f]{2,64}$/);
  await waitForStats(env.bridge, (x) => x.cacheTracked >= before.tracked + 1, 'tracked session');
  return s;
}

describe('session cache', () => {
  it('a TLS 1.2 session-id client resumes', async () => {
    const s = await newCachedSession();
    expect((await idOnly(s.newSession)).resumed).toBe(true);
  });

  it('after a flush it does not, and new sessions are cached again', async () => {
    const s1 = await newCachedSession();
    const s2 = await newCachedSession();
    const before = await env.bridge.sessionCacheStats();

    await env.bridge.flushSessionCache();
    const after = await waitForStats(env.bridge, (x) => x.cacheFlushes === before.flushes + 1, 'flush');

    expect(after.cacheTracked).toBe(0);
    expect(after.cacheRemoved).toBeGreaterThanOrEqual(before.removed + 2);
    expect((await idOnly(s1.newSession)).resumed).toBe(false);
    expect((await idOnly(s2.newSession)).resumed).toBe(false);

    const s3 = await newCachedSession();
    expect((await idOnly(s3.newSession)).resumed).toBe(true);
  });

  it('removing one id removes that session only', async () => {
    const gone = await newCachedSession();
    const kept = await newCachedSession();
    const before = await env.bridge.sessionCacheStats();

    await env.bridge.removeSession(gone.sessionId!);
    await waitForStats(env.bridge, (x) => x.cacheRemoved === before.removed + 1, 'removal');

    expect((await idOnly(gone.newSession)).resumed).toBe(false);
    expect((await idOnly(kept.newSession)).resumed).toBe(true);
  });

  it('hits count the lookups that found the session, not those that missed', async () => {
    const found = await newCachedSession();
    const gone = await newCachedSession();
    const start = await env.bridge.readStats();
    await env.bridge.removeSession(gone.sessionId!);
    // A cache message publishes every counter: once its removal shows, the stats are current.
    const before = await waitForStats(env.bridge, (x) => x.cacheRemoved === start.cacheRemoved + 1, 'removal');

    expect((await idOnly(found.newSession)).resumed).toBe(true); // a lookup that finds it
    expect((await idOnly(gone.newSession)).resumed).toBe(false); // a lookup that misses
    await env.bridge.removeSession(found.sessionId!);
    const after = await waitForStats(env.bridge, (x) => x.cacheRemoved === before.cacheRemoved + 1, 'removal');

    expect(before.cacheHits).toBeDefined();
    expect(after.cacheHits).toBe(before.cacheHits! + 1);
    expect((await env.bridge.sessionCacheStats()).hits).toBe(after.cacheHits);
  });

  it('malformed cache commands change nothing', async () => {
    const s = await newCachedSession();
    const other = await newCachedSession();
    const before = await env.bridge.readStats();

    await expect(env.bridge.removeSession('not-hex')).rejects.toThrow(RangeError); // refused before sending
    await sendRawMessage(env.ats, 'ticketkeys.cache', Buffer.from('remove zz'));
    await sendRawMessage(env.ats, 'ticketkeys.cache', Buffer.from('flush everything'));
    await sendRawMessage(env.ats, 'ticketkeys.cache', Buffer.from(''));
    // Messages are handled in order: once this removal is counted, the ones above were handled.
    await env.bridge.removeSession(other.sessionId!);
    const after = await waitForStats(env.bridge, (x) => x.cacheRemoved === before.cacheRemoved + 1, 'removal');

    expect(after.cacheFlushes).toBe(before.cacheFlushes);
    expect((await idOnly(s.newSession)).resumed).toBe(true);
  });

  it('openssl s_client -no_ticket resumes by session id; after a flush it does not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tko-sclient-'));
    const sess = join(dir, 'session.pem');
    const sClient = async (...extra: string[]) => {
      const stdout = await run('openssl', ['s_client', '-connect', `${ADDR}:${env.ats.tlsPort}`, '-tls1_2', '-no_ticket', ...extra]);
      return /^Reused, TLSv1\.2/m.test(stdout) ? 'reused' : /^New, TLSv1\.2/m.test(stdout) ? 'new' : 'failed';
    };
    try {
      expect(await sClient('-sess_out', sess)).toBe('new');
      await waitForStats(env.bridge, (x) => x.cacheTracked >= 1, 'tracked session');
      expect(await sClient('-sess_in', sess)).toBe('reused');

      const before = await env.bridge.sessionCacheStats();
      await env.bridge.flushSessionCache();
      await waitForStats(env.bridge, (x) => x.cacheFlushes === before.flushes + 1, 'flush');
      expect(await sClient('-sess_in', sess)).toBe('new');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
