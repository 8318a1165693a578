// Session sharing between two real traffic_servers with the bridge plugin (issue 14, plugin side):
// a TLS 1.2 session-id client (no tickets) makes a session on A; the plugin exports it to A's
// session FIFO (read by the agent's SessionChannel); Ats9Bridge.importSessions hands it to B's
// plugin, which validates and inserts it; the client then resumes on B. Hostile input is refused
// and counted, and a flush on B removes what was imported.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ats9Bridge } from '../../src/agent/ats9/ats9-bridge.ts';
import type { ExportedSession, SessionImport } from '../../src/agent/ats-bridge.ts';
import { SESSIONS_TAG } from '../../src/contract/plugin-wire.ts';
import type { TlsProbeResult } from '../../dev/tls-probe.ts';
import { readAtsLogs, sendRawMessage, sessionIdProbe, startTestAts, waitFor, waitForSharingStats, type TestAts } from '../helpers/ats.ts';

// One address, two ports: what a client behind a load balancer sees is one server name, and
// Node's TLS client (OpenSSL) only offers a session again to the host it was made with.
const ADDR = '127.0.71.51';
const PORT_A = 18443;
const PORT_B = 18444;

let dir: string;
let atsA: TestAts;
let atsB: TestAts;
let bridgeA: Ats9Bridge;
let bridgeB: Ats9Bridge;
/** Sessions A exported, by id hex. */
const exported = new Map<string, ExportedSession>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tko-share-'));
  const fifoA = join(dir, 'a-sessions');
  const fifoB = join(dir, 'b-sessions');
  [atsA, atsB] = await Promise.all([
    startTestAts({ addr: ADDR, port: PORT_A, pluginArgs: [`--session-fifo=${fifoA}`] }),
    // B logs its refusals by reason (debug tag ticketkeys): the test reads them back.
    startTestAts({ addr: ADDR, port: PORT_B, pluginArgs: [`--session-fifo=${fifoB}`], debugTags: 'ticketkeys' }),
  ]);
  bridgeA = new Ats9Bridge({ socketPath: atsA.mgmtSocket }, { sessionFifo: fifoA });
  bridgeB = new Ats9Bridge({ socketPath: atsB.mgmtSocket }, { sessionFifo: fifoB });
  await bridgeA.openSessionExport((sessions) => {
    for (const s of sessions) exported.set(s.id.toString('hex'), s);
  });
});

afterAll(async () => {
  await bridgeA?.close();
  await bridgeB?.close();
  await Promise.all([atsA?.dispose(), atsB?.dispose()]);
  for (const s of exported.values()) s.der.fill(0);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const probe = sessionIdProbe;

/** A new session on A and its record from A's session FIFO. */
async function sessionOnA(): Promise<{ client: TlsProbeResult; record: ExportedSession }> {
  const client = await probe(atsA);
  expect(client.protocol).toBe('TLSv1.2');
  expect(client.ticketKeyName).toBeUndefined(); // no ticket: only a server cache brings it back
  expect(client.sessionId).toMatch(/^[0-9a-f]{2,64}$/);
  await waitFor(async () => exported.has(client.sessionId!), 'session record on the FIFO');
  return { client, record: exported.get(client.sessionId!)! };
}

const statsWhen = waitForSharingStats;

/** The DER with its session time (the [1] EXPLICIT INTEGER of SSL_SESSION, 4 bytes) replaced. */
function withTime(record: ExportedSession, time: number): Buffer {
  const der = Buffer.from(record.der);
  const current = Buffer.alloc(4);
  current.writeUInt32BE(record.time);
  const at = der.indexOf(Buffer.concat([Buffer.from([0xa1, 0x06, 0x02, 0x04]), current]));
  expect(at).toBeGreaterThan(0);
  der.writeUInt32BE(time, at + 4);
  return der;
}

/** A sessions message as a buggy or hostile sender would write it (no encoder checks). */
function rawImport(lines: string[]): Buffer {
  return Buffer.from(`v1 ttl=300 notbefore=0\n${lines.map((l) => `${l}\n`).join('')}`, 'latin1');
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('session sharing between two ATS', () => {
  it('exports a new TLS 1.2 session as a record matching the client session', async () => {
    const { client, record } = await sessionOnA();
    expect(record.id.toString('hex')).toBe(client.sessionId);
    expect(record.der.length).toBeGreaterThan(0);
    expect(record.der.length).toBeLessThanOrEqual(256);
    expect(Math.abs(record.time - nowSeconds())).toBeLessThan(120);
    expect(record.timeoutSeconds).toBeGreaterThan(0);
    await statsWhen(bridgeA, (s) => s.exported >= 1, 'exported counted');
    expect(bridgeA.sessionExportCounts()).toMatchObject({ invalid: 0, oversized: 0 });
  });

  it("a session made on A resumes on B once imported there, and not before", async () => {
    const { client, record } = await sessionOnA();
    expect((await probe(atsA, client.newSession)).resumed).toBe(true);
    expect((await probe(atsB, client.newSession)).resumed).toBe(false); // B's cache is private

    const before = await bridgeB.sessionSharingStats();
    await bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: record.id, der: record.der }] });
    await statsWhen(bridgeB, (s) => s.imported === before.imported + 1, 'import counted');

    const onB = await probe(atsB, client.newSession);
    expect(onB.protocol).toBe('TLSv1.2');
    expect(onB.resumed).toBe(true);
    expect((await bridgeB.sessionCacheStats()).tracked).toBeGreaterThanOrEqual(1); // flush will find it
  });

  it('B has no reader on its FIFO: its new sessions are counted as export_no_reader', async () => {
    const before = await bridgeB.sessionSharingStats();
    await probe(atsB);
    await statsWhen(bridgeB, (s) => s.exportNoReader === before.exportNoReader + 1, 'no reader counted');
    expect((await bridgeB.sessionSharingStats()).exported).toBe(before.exported);
  });

  it('the export reader can be closed and re-opened', async () => {
    await bridgeA.closeSessionExport();
    const before = await bridgeA.sessionSharingStats();
    const unseen = await probe(atsA);
    await statsWhen(bridgeA, (s) => s.exportNoReader === before.exportNoReader + 1, 'no reader counted');
    await bridgeA.openSessionExport((sessions) => {
    for (const s of sessions) exported.set(s.id.toString('hex'), s);
  });
    const { record } = await sessionOnA();
    expect(record.id.length).toBeGreaterThan(0);
    expect(exported.has(unseen.sessionId!)).toBe(false);
  });

  it('refuses and counts hostile sessions; ATS keeps serving and a valid one still goes in', async () => {
    const { client, record } = await sessionOnA();
    const now = nowSeconds();
    const otherId = Buffer.from(record.id);
    otherId[0] = otherId[0]! ^ 0xff;
    const session = (der: Buffer, id = record.id) => ({ id, der });
    const before = await bridgeB.sessionSharingStats();

    const imports: SessionImport[] = [
      { ttlSeconds: 300, notBefore: 0, sessions: [session(record.der.subarray(0, record.der.length - 9))] }, // truncated
      { ttlSeconds: 300, notBefore: 0, sessions: [session(Buffer.concat([record.der, Buffer.from([0x00, 0x00])]))] }, // trailing bytes
      { ttlSeconds: 300, notBefore: 0, sessions: [session(record.der, otherId)] }, // id mismatch
      { ttlSeconds: 300, notBefore: record.time + 1, sessions: [session(record.der)] }, // created before notbefore
      { ttlSeconds: 300, notBefore: 0, sessions: [session(withTime(record, now + 3600))] }, // future
      { ttlSeconds: 300, notBefore: 0, sessions: [session(withTime(record, now - 10 * 86_400))] }, // expired
    ];
    for (const batch of imports) await bridgeB.importSessions(batch);
    // What the encoder refuses, sent raw: oversized DER, bad hex, an id over 32 bytes, no header.
    const derHex = record.der.toString('hex');
    await expect(bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [session(Buffer.alloc(257, 1))] })).rejects.toThrow(RangeError);
    await sendRawMessage(atsB, SESSIONS_TAG, rawImport([`s id=${record.id.toString('hex')} der=${derHex}${'00'.repeat(257 - record.der.length)}`]));
    await sendRawMessage(atsB, SESSIONS_TAG, rawImport([`s id=${record.id.toString('hex')} der=${derHex.slice(0, -1)}z`]));
    await sendRawMessage(atsB, SESSIONS_TAG, rawImport([`s id=${'ab'.repeat(33)} der=${derHex}`]));
    await sendRawMessage(atsB, SESSIONS_TAG, Buffer.from(`s id=${record.id.toString('hex')} der=${derHex}\n`, 'latin1'));
    await sendRawMessage(atsB, SESSIONS_TAG, Buffer.from(`v1 ttl=0 notbefore=0\ns id=${record.id.toString('hex')} der=${derHex}\n`, 'latin1'));

    const refused = imports.length + 5;
    const after = await statsWhen(bridgeB, (s) => s.importRejected === before.importRejected + refused, 'refusals counted');
    expect(after.imported).toBe(before.imported);
    // Each refusal by its reason in B's debug log, and no session secret in any log.
    const logs = await readAtsLogs(atsB);
    for (const reason of ['malformed', 'undecodable', 'id_mismatch', 'before_flush', 'future', 'expired']) {
      expect(logs).toMatch(new RegExp(`refused:.* ${reason}=\\d`));
    }
    expect(logs.toLowerCase()).not.toContain(derHex.slice(0, 64));
    expect((await probe(atsB, client.newSession)).resumed).toBe(false); // none of them went in

    // ATS still serves: a new handshake on B, and the genuine session is accepted and resumes.
    expect((await probe(atsB)).statusLine).toMatch(/^HTTP\/1\.1 /);
    await bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [session(record.der)] });
    await statsWhen(bridgeB, (s) => s.imported === before.imported + 1, 'valid import counted');
    expect((await probe(atsB, client.newSession)).resumed).toBe(true);
  });

  it("a session's life on B is clamped to the ttl", async () => {
    const short = await sessionOnA();
    const long = await sessionOnA();
    const before = await bridgeB.sessionSharingStats();
    await bridgeB.importSessions({ ttlSeconds: 1, notBefore: 0, sessions: [{ id: short.record.id, der: short.record.der }] });
    await bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: long.record.id, der: long.record.der }] });
    await statsWhen(bridgeB, (s) => s.imported === before.imported + 2, 'imports counted');
    await sleep(2500); // past the 1 s ttl, far inside the 300 s one
    expect((await probe(atsB, short.client.newSession)).resumed).toBe(false);
    expect((await probe(atsB, long.client.newSession)).resumed).toBe(true);
  });

  it('a flush on B removes imported sessions and refuses sessions created before it', async () => {
    const imported = await sessionOnA();
    const old = await sessionOnA(); // created before the flush, imported after it
    const before = await bridgeB.sessionSharingStats();
    await bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: imported.record.id, der: imported.record.der }] });
    await statsWhen(bridgeB, (s) => s.imported === before.imported + 1, 'import counted');
    expect((await probe(atsB, imported.client.newSession)).resumed).toBe(true);

    // The flush must fall in a later second than the old session's time (session times are seconds).
    while (nowSeconds() <= old.record.time) await sleep(100);
    const flushesBefore = (await bridgeB.sessionCacheStats()).flushes;
    await bridgeB.flushSessionCache();
    await waitFor(async () => (await bridgeB.sessionCacheStats()).flushes === flushesBefore + 1, 'flush');
    expect((await probe(atsB, imported.client.newSession)).resumed).toBe(false);

    const mid = await bridgeB.sessionSharingStats();
    await bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: old.record.id, der: old.record.der }] });
    await statsWhen(bridgeB, (s) => s.importRejected === mid.importRejected + 1, 'before-flush refusal counted');
    expect((await probe(atsB, old.client.newSession)).resumed).toBe(false);

    // Sessions made after the flush are shared again.
    const fresh = await sessionOnA();
    await bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: fresh.record.id, der: fresh.record.der }] });
    await statsWhen(bridgeB, (s) => s.imported === mid.imported + 1, 'import counted');
    expect((await probe(atsB, fresh.client.newSession)).resumed).toBe(true);
  });
});

describe('the --session-fifo argument', () => {
  it('a relative path keeps the plugin from loading, with the reason in diags.log', async () => {
    const root = join(dir, 'bad');
    await expect(startTestAts({ dir: root, addr: ADDR, port: 18445, pluginArgs: ['--session-fifo=relative/sessions'], startTimeoutMs: 8000 })).rejects.toThrow(
      /not ready/,
    );
    const diags = await readFile(join(root, 'log', 'diags.log'), 'latin1');
    expect(diags).toContain('--session-fifo= needs an absolute path');
  });
});
