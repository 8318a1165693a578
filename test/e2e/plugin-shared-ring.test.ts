// Two ATS instances (two "replicas"): a shared ring lets a client resume on either one with a
// ticket from the other; different rings do not.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Ats9Bridge } from '../../src/agent/ats9/ats9-bridge.ts';
import { keyName, newKey, pushRing, startTestAts, type TestAts } from '../helpers/ats.ts';
import { tlsProbe, type TlsVersion } from '../../dev/tls-probe.ts';

const SERVICE_NAME = 'proxy.ticketkeys.test';

let a: TestAts;
let b: TestAts;
let bridgeA: Ats9Bridge;
let bridgeB: Ats9Bridge;
let generation = 0;

beforeAll(async () => {
  [a, b] = await Promise.all([startTestAts({ addr: '127.0.0.42' }), startTestAts({ addr: '127.0.0.43' })]);
  bridgeA = a.createBridge();
  bridgeB = b.createBridge();
});

afterAll(async () => {
  await Promise.all([bridgeA?.close(), bridgeB?.close()]);
  await Promise.all([a?.dispose(), b?.dispose()]);
});

describe.each<TlsVersion>(['1.2', '1.3'])('two instances over TLS %s', (tls) => {
  // Replicas behind one name: clients (node's included) only offer a session to the server
  // name it was made for, so both instances are reached under the same SNI.
  const probe = (ats: TestAts, session?: Buffer) => tlsProbe({ host: ats.addr, port: ats.tlsPort, tls, session, servername: SERVICE_NAME });

  it('given the same ring, resume each other’s tickets', async () => {
    const k = newKey();
    generation++;
    await Promise.all([pushRing(bridgeA, generation, [k]), pushRing(bridgeB, generation, [k])]);

    const fromA = await probe(a);
    const fromB = await probe(b);
    expect(fromA.ticketKeyName).toBe(keyName(k));
    expect(fromB.ticketKeyName).toBe(keyName(k));
    expect((await probe(b, fromA.newSession)).resumed).toBe(true);
    expect((await probe(a, fromB.newSession)).resumed).toBe(true);
  });

  it('given different rings, do not', async () => {
    const ka = newKey();
    const kb = newKey();
    generation++;
    await Promise.all([pushRing(bridgeA, generation, [ka]), pushRing(bridgeB, generation, [kb])]);

    const fromA = await probe(a);
    const fromB = await probe(b);
    expect((await probe(b, fromA.newSession)).resumed).toBe(false);
    expect((await probe(a, fromB.newSession)).resumed).toBe(false);
    // Each still resumes its own.
    expect((await probe(a, fromA.newSession)).resumed).toBe(true);
    expect((await probe(b, fromB.newSession)).resumed).toBe(true);
  });
});
