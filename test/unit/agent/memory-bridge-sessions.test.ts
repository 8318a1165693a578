// MemoryBridge's session sharing: the plugin's rules (sizes, id, time, flush, ttl clamp) without
// OpenSSL, for the agent's unit tests and benches. Proves nothing about ATS (see the e2e test
// test/e2e/plugin-session-sharing.test.ts for that).
import { describe, expect, it } from '@jest/globals';
import { MemoryBridge, memoryBridgeSessionDer } from '../../../src/agent/memory-bridge.ts';
import type { ExportedSession } from '../../../src/agent/ats-bridge.ts';

function clock(start = 1_765_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('MemoryBridge session sharing', () => {
  it('hands new sessions to the open export reader, counts them without one', async () => {
    const b = new MemoryBridge();
    const got: ExportedSession[] = [];
    b.createSession();
    await b.openSessionExport((sessions) => got.push(...sessions));
    const s = b.createSession();
    await new Promise((r) => setImmediate(r)); // the sessions of a turn are handed over in the next
    await b.closeSessionExport();
    b.createSession();
    expect(got).toHaveLength(1);
    expect(got[0]!.id.equals(s.id)).toBe(true);
    expect(got[0]!.der.equals(s.der)).toBe(true);
    expect(await b.sessionSharingStats()).toMatchObject({ exported: 1, exportNoReader: 2 });
  });

  it("inserts another bridge's sessions and refuses bad ones by the plugin's reasons", async () => {
    const c = clock();
    const a = new MemoryBridge({ now: c.now });
    const b = new MemoryBridge({ now: c.now });
    const s = a.createSession();
    const now = Math.floor(c.now() / 1000);
    const other = Buffer.from(s.id);
    other[0]! ^= 0xff;
    await b.importSessions({
      ttlSeconds: 300,
      notBefore: 0,
      sessions: [
        { id: s.id, der: s.der },
        { id: s.id, der: s.der.subarray(0, 10) }, // undecodable
        { id: other, der: s.der }, // id mismatch
        { id: s.id, der: memoryBridgeSessionDer(s.id, now + 3600, 300) }, // future
        { id: s.id, der: memoryBridgeSessionDer(s.id, now - 1000, 300) }, // expired
      ],
    });
    await b.importSessions({ ttlSeconds: 300, notBefore: now + 1, sessions: [{ id: s.id, der: s.der }] }); // before notBefore
    expect(b.hasSession(s.id.toString('hex'))).toBe(true);
    expect(await b.sessionSharingStats()).toMatchObject({ imported: 1, importRejected: 5 });
    expect(b.importRefusals).toEqual({ malformed: 0, undecodable: 1, id_mismatch: 1, before_flush: 1, future: 1, expired: 1 });
    await expect(b.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: s.id, der: Buffer.alloc(257) }] })).rejects.toThrow(RangeError);
    await expect(b.importSessions({ ttlSeconds: 0, notBefore: 0, sessions: [{ id: s.id, der: s.der }] })).rejects.toThrow(RangeError);
  });

  it('clamps a received session to the ttl; a flush removes it and refuses older sessions', async () => {
    const c = clock();
    const a = new MemoryBridge({ now: c.now });
    const b = new MemoryBridge({ now: c.now });
    const short = a.createSession();
    const kept = a.createSession();
    await b.importSessions({ ttlSeconds: 2, notBefore: 0, sessions: [{ id: short.id, der: short.der }] });
    await b.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: kept.id, der: kept.der }] });
    c.advance(3000);
    expect(b.hasSession(short.id.toString('hex'))).toBe(false);
    expect(b.hasSession(kept.id.toString('hex'))).toBe(true);

    const old = a.createSession();
    c.advance(1000);
    await b.flushSessionCache();
    expect(b.hasSession(kept.id.toString('hex'))).toBe(false);
    await b.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: old.id, der: old.der }] });
    expect(b.hasSession(old.id.toString('hex'))).toBe(false);
    expect(b.importRefusals.before_flush).toBe(1);
    const fresh = a.createSession();
    await b.importSessions({ ttlSeconds: 300, notBefore: 0, sessions: [{ id: fresh.id, der: fresh.der }] });
    expect(b.hasSession(fresh.id.toString('hex'))).toBe(true);
  });
});
