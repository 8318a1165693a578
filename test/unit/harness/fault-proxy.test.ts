// The fault proxy of the fault-injection tests does what each mode says, on real loopback
// sockets: pass forwards, refuse refuses the connect, blackhole accepts and never answers,
// delay forwards late (both ways), and pass again heals.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, createServer, type Server } from 'node:net';
import { FaultProxy } from '../../../dev/fault-proxy.ts';

const HOST = '127.0.70.200';
const TARGET = '127.0.70.201';
let echo: Server;
let proxy: FaultProxy;
let port = 0;

/** Sends `text`, resolves with the echo (or 'no answer' after waitMs), or rejects with the connect error code. */
function roundTrip(text: string, waitMs = 1500): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect(port, HOST);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ answer: got || 'no answer', ms: Date.now() - started });
    }, waitMs);
    s.on('connect', () => s.write(text));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got === text) {
        clearTimeout(timer);
        s.destroy();
        resolve({ answer: got, ms: Date.now() - started });
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(err.code ?? err.message), { code: err.code }));
    });
  });
}

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, TARGET, resolve));
  const target = echo.address() as { port: number };
  // Any free port on HOST: take the echo's port number (HOST is another address).
  port = target.port;
  proxy = await FaultProxy.start({ listen: { host: HOST, port }, target: { host: TARGET, port: target.port } });
});
afterAll(async () => {
  await proxy.close();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

describe('FaultProxy', () => {
  it('passes bytes both ways', async () => {
    expect((await roundTrip('hello')).answer).toBe('hello');
  });

  it('refuses connections', async () => {
    await proxy.setMode('refuse');
    await expect(roundTrip('x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('black-holes: accepts, never answers', async () => {
    await proxy.setMode('blackhole');
    const before = proxy.accepted;
    expect((await roundTrip('x', 800)).answer).toBe('no answer');
    expect(proxy.accepted).toBe(before + 1);
  });

  it('delays each chunk in both directions', async () => {
    await proxy.setMode('delay', { delayMs: 400 });
    const r = await roundTrip('slow', 3000);
    expect(r.answer).toBe('slow');
    expect(r.ms).toBeGreaterThanOrEqual(2 * 400 - 50); // there and back
  });

  it('heals', async () => {
    await proxy.setMode('pass');
    expect((await roundTrip('again')).answer).toBe('again');
  });
});
