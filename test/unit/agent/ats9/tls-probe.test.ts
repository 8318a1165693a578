// The probe's session parsing, against sessions from a real node TLS client and server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { parseSession, tlsProbe } from '../../../../dev/tls-probe.ts';

let server: Server;
let port: number;
let ticketKeys: Buffer;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tko-probe-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=probe'], { stdio: 'ignore' });
    server = createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (s) => {
      s.on('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  ticketKeys = server.getTicketKeys(); // node's layout: name[16] | hmac[16] | aes[16]
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe.each(['1.2', '1.3'] as const)('TLS %s', (tls) => {
  it('reports the ticket key name and resumes with the session', async () => {
    const first = await tlsProbe({ host: '127.0.0.1', port, tls });
    expect(first.protocol).toBe(tls === '1.2' ? 'TLSv1.2' : 'TLSv1.3');
    expect(first.statusLine).toBe('HTTP/1.1 200 OK');
    expect(first.resumed).toBe(false);
    expect(first.ticketKeyName).toBe(ticketKeys.subarray(0, 16).toString('hex'));

    const again = await tlsProbe({ host: '127.0.0.1', port, tls, session: first.newSession });
    expect(again.resumed).toBe(true);
  });
});

describe('sessionIdOnly', () => {
  it('asks for no ticket: the session carries an id and no ticket', async () => {
    const r = await tlsProbe({ host: '127.0.0.1', port, tls: '1.2', sessionIdOnly: true });
    expect(r.ticketKeyName).toBeUndefined();
    expect(r.sessionId).toMatch(/^[0-9a-f]{64}$/);
    expect(parseSession(r.newSession!).ticket).toBeUndefined();
  });

  it('is TLS 1.2 only', () => {
    expect(() => tlsProbe({ host: '127.0.0.1', port, tls: '1.3', sessionIdOnly: true })).toThrow(/TLS 1.2/);
  });
});
