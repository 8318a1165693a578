// Rotation through the ticketkeys_bridge plugin, end to end: Ats9Bridge → mgmtapi.sock →
// traffic_server → TSSslTicketKeyUpdate, checked by real TLS clients that resume sessions.
import { describe, expect, it } from '@jest/globals';
import { ringFingerprint } from '../../src/core/fingerprint.ts';
import { keyName, newKey, pushRing, useTestAts } from '../helpers/ats.ts';
import { tlsProbe, type TlsVersion } from '../../dev/tls-probe.ts';

const ADDR = '127.0.0.41';

const env = useTestAts(ADDR);
let generation = 0;

describe.each<TlsVersion>(['1.2', '1.3'])('rotation over TLS %s', (tls) => {
  const k1 = newKey();
  const k2 = newKey();
  const probe = (session?: Buffer) => tlsProbe({ host: ADDR, port: env.ats.tlsPort, tls, ca: env.ats.certPem, session });
  let k1Session: Buffer;

  it('install K1: tickets carry K1 and resume', async () => {
    const stats = await pushRing(env.bridge, ++generation, [k1]);
    expect(stats).toMatchObject({ keyCount: 1, ringFingerprint: ringFingerprint(k1) });

    const first = await probe();
    expect(first.statusLine).toBe('HTTP/1.1 200 OK');
    expect(first.ticketKeyName).toBe(keyName(k1));
    k1Session = first.newSession!;

    const again = await probe(k1Session);
    expect(again.resumed).toBe(true);
  });

  it('stage [K1, K2]: the K1 ticket resumes and new tickets are still under K1', async () => {
    await pushRing(env.bridge, ++generation, [k1, k2]);

    expect((await probe(k1Session)).resumed).toBe(true);
    expect((await probe()).ticketKeyName).toBe(keyName(k1));
  });

  it('promote [K2, K1]: the K1 ticket resumes and new tickets carry K2', async () => {
    await pushRing(env.bridge, ++generation, [k2, k1]);

    const resumed = await probe(k1Session);
    expect(resumed.resumed).toBe(true);
    // TLS 1.3 re-issues a ticket on every resumption, under the first key. (TLS 1.2 renews
    // too, but OpenSSL clients do not surface a renewed ticket as a new session.)
    if (tls === '1.3') expect(resumed.ticketKeyName).toBe(keyName(k2));
    expect((await probe()).ticketKeyName).toBe(keyName(k2));
  });

  it('drop K1: the K1 ticket no longer resumes, K2 tickets do', async () => {
    const k2Session = (await probe()).newSession!;
    await pushRing(env.bridge, ++generation, [k2]);

    expect((await probe(k1Session)).resumed).toBe(false);
    expect((await probe(k2Session)).resumed).toBe(true);
  });
});

describe('a full ring', () => {
  it('accepts 16 keys; every one of them decrypts, the first encrypts', async () => {
    const keys = Array.from({ length: 16 }, newKey);
    const sessions: Buffer[] = [];
    for (const k of keys) {
      await pushRing(env.bridge, ++generation, [k]);
      sessions.push((await tlsProbe({ host: ADDR, port: env.ats.tlsPort, tls: '1.3' })).newSession!);
    }

    const ring = [...keys].reverse(); // newest first
    await pushRing(env.bridge, ++generation, ring);

    for (const s of sessions) expect((await tlsProbe({ host: ADDR, port: env.ats.tlsPort, tls: '1.3', session: s })).resumed).toBe(true);
    expect((await tlsProbe({ host: ADDR, port: env.ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(ring[0]!));
  });
});
