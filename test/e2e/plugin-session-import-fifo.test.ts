// The session import FIFO between the agent and a real traffic_server (issue 14, the cheap path):
// the plugin loaded with --session-import-fifo reads the binary messages the agent writes into a
// FIFO (no relay through traffic_manager). A session made on A resumes on B once written
// there; what a buggy or hostile writer puts in the stream is refused and counted without
// stopping the good messages after it; a FIFO that others could write is not read; a write with
// nobody reading fails instead of vanishing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { constants, openSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ats9Bridge } from '../../src/agent/ats9/ats9-bridge.ts';
import { encodeSessionImportMessage } from '../../src/agent/ats9/plugin-protocol.ts';
import { AtsUnavailableError, type ExportedSession, type SessionSharingPluginStats } from '../../src/agent/ats-bridge.ts';
import type { TlsProbeResult } from '../../dev/tls-probe.ts';
import { readAtsLogs, sessionIdProbe, startTestAts, waitFor, waitForSharingStats, type TestAts } from '../helpers/ats.ts';

const ADDR = '127.0.71.52';
const PORT_A = 18446;
const PORT_B = 18447;

let dir: string;
let atsA: TestAts;
let atsB: TestAts;
let bridgeA: Ats9Bridge;
let bridgeB: Ats9Bridge;
let importFifo: string;
const exported = new Map<string, ExportedSession>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tko-import-'));
  const fifoA = join(dir, 'a-sessions');
  importFifo = join(dir, 'b-imports');
  // The agent creates the FIFO (as `tko agent` does at start); B opens it on its next look.
  bridgeB = await Ats9Bridge.create({ socketPath: join(dir, 'unused.sock') }, { sessionImportFifo: importFifo });
  [atsA, atsB] = await Promise.all([
    startTestAts({ addr: ADDR, port: PORT_A, pluginArgs: [`--session-fifo=${fifoA}`] }),
    startTestAts({ addr: ADDR, port: PORT_B, pluginArgs: [`--session-import-fifo=${importFifo}`], debugTags: 'ticketkeys' }),
  ]);
  await bridgeB.close();
  bridgeA = new Ats9Bridge({ socketPath: atsA.mgmtSocket }, { sessionFifo: fifoA });
  bridgeB = new Ats9Bridge({ socketPath: atsB.mgmtSocket }, { sessionImportFifo: importFifo });
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

async function sessionOnA(): Promise<{ client: TlsProbeResult; record: ExportedSession }> {
  const client = await probe(atsA);
  expect(client.sessionId).toMatch(/^[0-9a-f]{2,64}$/);
  await waitFor(async () => exported.has(client.sessionId!), 'session record on the FIFO');
  return { client, record: exported.get(client.sessionId!)! };
}

const statsWhen = (accept: (s: SessionSharingPluginStats) => boolean, what: string): Promise<SessionSharingPluginStats> => waitForSharingStats(bridgeB, accept, what);

/** One import through B's FIFO: true when written, false when nobody reads the FIFO (AtsUnavailableError). */
async function importOnB(record: ExportedSession): Promise<boolean> {
  try {
    await bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: record.id, der: record.der }] });
    return true;
  } catch (err) {
    if (err instanceof AtsUnavailableError) return false;
    throw err;
  }
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

/** Writes raw bytes into the import FIFO as the agent (its owner) could, bypassing the encoder. */
function writeRaw(bytes: Buffer): void {
  const fd = openSync(importFifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    expect(writeSync(fd, bytes)).toBe(bytes.length);
  } finally {
    closeSync(fd);
  }
}

describe('the session import FIFO', () => {
  it('a session made on A resumes on B once written into B\'s import FIFO, and not before', async () => {
    const { client, record } = await sessionOnA();
    expect((await probe(atsB, client.newSession)).resumed).toBe(false);
    const before = await bridgeB.sessionSharingStats();
    // B opens the FIFO within a second of its creation: until then nobody reads it (ENXIO).
    await waitFor(() => importOnB(record), 'B reads its import FIFO');
    await statsWhen((s) => s.imported === before.imported + 1, 'import counted');
    const onB = await probe(atsB, client.newSession);
    expect(onB.protocol).toBe('TLSv1.2');
    expect(onB.resumed).toBe(true);
  });

  it('refuses and counts what a broken writer puts in the stream; the good message after it still goes in', async () => {
    const bad = await sessionOnA();
    const good = await sessionOnA();
    const before = await bridgeB.sessionSharingStats();
    const { id, der } = bad.record;
    /** A message laid out by hand (plugin-wire.ts), so that it can be wrong in every way. */
    const message = (ttl: number, entries: Buffer[], length?: number): Buffer => {
      const body = Buffer.concat([u32(ttl), u32(0), ...entries]);
      return Buffer.concat([Buffer.from('TKI1', 'latin1'), u32(length ?? body.length), body]);
    };
    const entry = (sid: Buffer, sder: Buffer, derLength = sder.length): Buffer => Buffer.concat([Buffer.from([sid.length]), sid, u16(derLength), sder]);
    const valid = encodeSessionImportMessage({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: good.record.id, der: good.record.der }] });
    const hostile = Buffer.concat([
      Buffer.from('v1 ttl=300 notbefore=0\nnot a message at all\n\n', 'latin1'), // no magic: skipped up to the next one
      message(0, [entry(id, der)]), // ttl 0
      Buffer.concat([Buffer.from('TKI1', 'latin1'), u32(0xffffffff)]), // a length out of range: skipped up to the next magic
      message(300, [entry(id, der, der.length + 10)]), // a DER length beyond the message
      message(300, [entry(id, der.subarray(0, der.length - 9))]), // a truncated DER with consistent lengths
    ]);
    writeRaw(hostile);
    // A good message split across two writes, the second a little later: the plugin keeps the partial message.
    writeRaw(valid.subarray(0, 10));
    await sleep(50);
    writeRaw(valid.subarray(10));
    valid.fill(0);
    // Refused: the garbage, ttl 0, the length out of range, the DER length, the truncated DER.
    const after = await statsWhen((s) => s.imported === before.imported + 1 && s.importRejected === before.importRejected + 5, 'refusals and the import counted');
    expect(after.importRejected - before.importRejected).toBe(5);
    hostile.fill(0);
    const logs = await readAtsLogs(atsB);
    expect(logs).toMatch(/sessions from the import FIFO: \d+ inserted, \d+ refused:.* malformed=4/);
    expect(logs).toMatch(/refused:.* undecodable=1/);
    expect(logs.toLowerCase()).not.toContain(der.toString('hex').slice(0, 64));
    expect((await probe(atsB, bad.client.newSession)).resumed).toBe(false);
    expect((await probe(atsB, good.client.newSession)).resumed).toBe(true);
  });

  it('a FIFO others may write is not read: the write fails; once only the owner may write, imports resume', async () => {
    const { client, record } = await sessionOnA();
    await chmod(importFifo, 0o622);
    // B checks the path every second; after that it has closed the FIFO and does not open it again.
    await waitFor(async () => !(await importOnB(record)), 'B stops reading the group-writable FIFO');
    await sleep(1500);
    await expect(bridgeB.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: record.id, der: record.der }] })).rejects.toThrow(AtsUnavailableError);
    expect(await readAtsLogs(atsB)).toContain('is not a FIFO that only its owner can write');

    await chmod(importFifo, 0o600);
    const before = await bridgeB.sessionSharingStats();
    await waitFor(() => importOnB(record), 'B reads the FIFO again');
    await statsWhen((s) => s.imported >= before.imported + 1, 'import counted');
    expect((await probe(atsB, client.newSession)).resumed).toBe(true);
  });

  it('with nobody reading the FIFO a write fails, and the channel refuses modes that let others write', async () => {
    const lonely = new Ats9Bridge({ socketPath: join(dir, 'nobody.sock') }, { sessionImportFifo: join(dir, 'nobody-reads') });
    try {
      await expect(lonely.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: Buffer.alloc(32, 1), der: Buffer.alloc(100, 2) }] })).rejects.toThrow(
        /nothing reads the session import FIFO/,
      );
    } finally {
      await lonely.close();
    }
    expect(() => new Ats9Bridge({ socketPath: join(dir, 'x.sock') }, { sessionImportFifo: join(dir, 'x'), sessionImportFifoMode: 0o620 })).toThrow(/only owner/);
  });
});
