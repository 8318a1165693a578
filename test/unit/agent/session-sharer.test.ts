// SessionSharer on its own: validation of received sessions, notBefore after a flush, batching,
// bounds and drop counting, and the zeroing of session secrets. Deliveries go over real mutual
// TLS to a stub peer (an HTTPS server with a peer's certificate) that records what it gets.
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AtsUnavailableError, type ExportedSession, type SessionImport } from '../../../src/agent/ats-bridge.ts';
import { acceptedAgentIdentities } from '../../../src/agent/identity.ts';
import { MemoryBridge, memoryBridgeSessionDer } from '../../../src/agent/memory-bridge.ts';
import { AgentMetrics } from '../../../src/agent/metrics.ts';
import { sessionSharingConfigHash, type Peer, type SessionSharingConfig, type SessionsBatch } from '../../../src/agent/protocol.ts';
import { SessionSharer, STREAM_FRAMES_IN_FLIGHT } from '../../../src/agent/session-sharer.ts';
import { SESSIONS_BATCH_MAX, SESSIONS_STREAM_PATH } from '../../../src/contract/agent-wire.ts';
import { decodeSessionFrame, encodeSessionFrame, SessionFrameReader } from '../../../src/agent/session-frames.ts';
import { SESSION_IMPORT_MAX_SESSIONS } from '../../../src/contract/plugin-wire.ts';
import { issueAgentCert, type DevCerts, type PemPair } from '../../../src/dev/certs.ts';
import { capturedLogger, testCerts, waitFor } from './fixtures.ts';

const NOW = 1_800_000_000;
let certs: DevCerts;
let self: PemPair;
let peerB: PemPair;

beforeAll(async () => {
  certs = await testCerts();
  self = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-a' });
  peerB = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-b' });
});

function peer(name: string, port: number): Peer {
  return { name, address: `127.0.0.1:${port}`, identities: acceptedAgentIdentities({ namespace: 'edge', name, serviceAccountName: 'ats' }) };
}

function config(peers: Peer[], overrides: Partial<SessionSharingConfig> = {}): SessionSharingConfig {
  return { enabled: true, ttlSeconds: 300, maxEntries: 1000, peers, ...overrides };
}

interface Harness {
  sharer: SessionSharer;
  bridge: MemoryBridge;
  metrics: AgentMetrics;
  imports: SessionImport[];
  /** Every session handed to the sharer by the export reader. */
  exported: ExportedSession[];
  clock: { now: number };
  lines: string[];
}

function harness(options: { batchDelayMs?: number } = {}): Harness {
  const clock = { now: NOW };
  const bridge = new MemoryBridge({ now: () => clock.now * 1000 });
  const imports: SessionImport[] = [];
  const importSessions = bridge.importSessions.bind(bridge);
  bridge.importSessions = async (batch) => {
    imports.push(batch);
    await importSessions(batch);
  };
  const exported: ExportedSession[] = [];
  const open = bridge.openSessionExport.bind(bridge);
  bridge.openSessionExport = (onSessions, options) =>
    open((sessions) => {
      exported.push(...sessions);
      onSessions(sessions);
    }, options);
  const metrics = new AgentMetrics();
  const { logger, lines } = capturedLogger();
  const sharer = new SessionSharer({
    bridge,
    logger,
    metrics,
    tls: { cert: self.cert, key: self.key, clientCa: certs.ca.cert },
    nowSeconds: () => clock.now,
    ...options,
  });
  return { sharer, bridge, metrics, imports, exported, clock, lines };
}

function session(idByte: number, time: number, derBytes = 180): { id: string; der: string; time: number } {
  const id = Buffer.alloc(32, idByte);
  return { id: id.toString('hex'), der: memoryBridgeSessionDer(id, time, 300, derBytes).toString('base64'), time };
}

describe('configuration', () => {
  it('answers its status with the hash of the canonical configuration; refuses what is not a configuration', async () => {
    const h = harness();
    const c = config([peer('ats-b', 1)]);
    const status = await h.sharer.configure(c);
    expect(status).toEqual({ enabled: true, configHash: sessionSharingConfigHash(c), peers: 1, exported: 0, sent: 0, received: 0, inserted: 0, dropped: 0, refused: 0 });
    expect(status.configHash).toMatch(/^[0-9a-f]{64}$/);
    for (const bad of [
      { ...c, ttlSeconds: 0 },
      { ...c, ttlSeconds: 86_401 },
      { ...c, maxEntries: 1_000_001 },
      { ...c, batchIntervalMs: 9 },
      { ...c, batchIntervalMs: 1001 },
      { ...c, batchIntervalMs: 40.5 },
      { ...c, extra: 1 },
      { ...c, peers: [{ ...peer('ats-b', 1), address: 'not an address' }] },
      { ...c, peers: [{ ...peer('ats-b', 1), identities: ['spiffe://ticketkeys.dev/operator'] }] },
      { ...c, peers: [peer('ats-b', 1), peer('ats-b', 2)] },
      { ...c, peers: Array.from({ length: 257 }, (_, i) => peer(`p${i}`, 1)) },
    ]) {
      await expect(h.sharer.configure(bad)).rejects.toMatchObject({ status: 400, code: 'bad_request' });
    }
    expect(h.sharer.status().configHash).toBe(sessionSharingConfigHash(c));
    await h.sharer.close();
  });

  it('refuses to turn on over a bridge that cannot share (409 sharing_disabled)', async () => {
    const h = harness();
    const bridge = new MemoryBridge();
    (bridge as { openSessionExport?: unknown }).openSessionExport = undefined;
    const sharer = new SessionSharer({ bridge, logger: capturedLogger().logger, metrics: h.metrics, tls: { cert: self.cert, key: self.key, clientCa: certs.ca.cert } });
    await expect(sharer.configure(config([]))).rejects.toMatchObject({ status: 409, code: 'sharing_disabled' });
    expect(sharer.status().enabled).toBe(false);
    await sharer.close();
  });
});

describe('received sessions', () => {
  it('validates every session: sizes, canonical base64, future, ttl age and notBefore; only valid ones reach ATS', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', 1)], { ttlSeconds: 60 }));
    const oversized = Buffer.alloc(257, 1).toString('base64'); // 344 chars: passes the schema, not the size
    const answer = await h.sharer.receive({
      sessions: [
        session(1, NOW - 5),
        { ...session(2, NOW), der: oversized },
        { ...session(3, NOW), der: 'AAAAAAE' }, // not padded: not canonical
        { ...session(4, NOW), der: 'AAB=' }, // non-zero pad bits: not canonical
        session(5, NOW + 61), // from the future
        session(6, NOW - 60), // as old as the ttl
        session(7, NOW + 60), // at the skew bound: accepted
      ],
    });
    expect(answer).toEqual({ accepted: 2, refused: 5 });
    expect(h.imports).toHaveLength(1);
    expect(h.imports[0]!.sessions.map((s) => s.der.length)).toEqual([180, 180]);
    expect(h.imports[0]!.ttlSeconds).toBe(60);
    expect(h.sharer.status()).toMatchObject({ received: 7, refused: 5, inserted: 2 });
    expect(await h.metrics.registry.getSingleMetricAsString('tko_agent_session_sharing_sessions_total')).toMatch(/direction="refused"} 5/);
    await h.sharer.close();
  });

  it('refuses a body that is not a batch (400, counted) and batches over 64 sessions or ids over 32 bytes', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', 1)]));
    for (const bad of [
      {},
      { sessions: [] },
      { sessions: Array.from({ length: 65 }, (_, i) => session(i, NOW)) },
      { sessions: [{ ...session(1, NOW), id: 'ab'.repeat(33) }] },
      { sessions: [{ ...session(1, NOW), id: 'abc' }] },
      { sessions: [{ ...session(1, NOW), time: -1 }] },
      { sessions: [{ ...session(1, NOW), der: 'A'.repeat(348) }] },
      { sessions: [{ ...session(1, NOW), extra: true }] },
    ]) {
      await expect(h.sharer.receive(bad)).rejects.toMatchObject({ status: 400, code: 'bad_request' });
    }
    expect(h.sharer.status()).toMatchObject({ refused: 8, received: 0 });
    expect(h.imports).toHaveLength(0);
    await h.sharer.close();
  });

  it('after a flush refuses every session created before it (the revoke), also those of the flush second', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', 1)]));
    expect(await h.sharer.receive({ sessions: [session(1, NOW - 10)] })).toEqual({ accepted: 1, refused: 0 });
    h.clock.now = NOW + 0.5;
    h.sharer.flushing();
    expect(h.sharer.notBefore).toBe(NOW + 1);
    expect(await h.sharer.receive({ sessions: [session(2, NOW - 10), session(3, NOW)] })).toEqual({ accepted: 0, refused: 2 });
    h.clock.now = NOW + 2;
    expect(await h.sharer.receive({ sessions: [session(4, NOW + 1)] })).toEqual({ accepted: 1, refused: 0 });
    expect(h.imports.at(-1)!.notBefore).toBe(NOW + 1);
    await h.sharer.close();
  });

  it('zeroes the decoded session buffers once ATS has them', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', 1)]));
    await h.sharer.receive({ sessions: [session(1, NOW), session(2, NOW)] });
    const handed = h.imports[0]!.sessions;
    expect(handed).toHaveLength(2);
    for (const s of handed) {
      expect(s.der.every((b) => b === 0)).toBe(true);
      expect(s.id.every((b) => b === 0)).toBe(true);
    }
    await h.sharer.close();
  });

  it('hands batches that arrive during an import to ATS together, whole batches per message of at most 64; a failed message fails its batches only', async () => {
    expect(SESSIONS_BATCH_MAX).toBeLessThanOrEqual(SESSION_IMPORT_MAX_SESSIONS); // a batch always fits one message
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', 1)]));
    const gates: Array<() => void> = [];
    let fail = (_size: number) => false;
    const sizes: number[] = [];
    h.bridge.importSessions = async (batch) => {
      sizes.push(batch.sessions.length);
      await new Promise<void>((resolve) => gates.push(resolve));
      if (fail(batch.sessions.length)) throw new AtsUnavailableError('traffic_server is not running');
    };
    const open = async (what: string) => {
      await waitFor(() => gates.length === 1, what);
      gates.shift()!();
    };
    let next = 0;
    const batch = (n: number) => ({ sessions: Array.from({ length: n }, () => session(next++ % 256, NOW)) });

    const first = h.sharer.receive(batch(2));
    await waitFor(() => gates.length === 1, 'the first import');
    const joined = [h.sharer.receive(batch(10)), h.sharer.receive(batch(20)), h.sharer.receive(batch(30))];
    const alone = h.sharer.receive(batch(64));
    gates.shift()!();
    expect(await first).toEqual({ accepted: 2, refused: 0 });
    await open('the joined message'); // 10 + 20 + 30 = 60: one message
    expect(await Promise.all(joined)).toEqual([10, 20, 30].map((n) => ({ accepted: n, refused: 0 })));
    await open('the next message'); // 64 more would not fit: its own message
    expect(await alone).toEqual({ accepted: 64, refused: 0 });
    expect(sizes).toEqual([2, 60, 64]);
    expect(h.sharer.status()).toMatchObject({ received: 126, inserted: 126, dropped: 0 });

    // The message holding b and c fails; d, in the next one, still goes in.
    fail = (size) => size === 7;
    const a = h.sharer.receive(batch(1));
    await waitFor(() => gates.length === 1, 'a');
    const [b, c, d] = [h.sharer.receive(batch(3)), h.sharer.receive(batch(4)), h.sharer.receive(batch(60))];
    gates.shift()!();
    expect(await a).toEqual({ accepted: 1, refused: 0 });
    await open('b and c');
    await expect(b).rejects.toMatchObject({ status: 503, code: 'ats_unavailable' });
    await expect(c).rejects.toMatchObject({ status: 503, code: 'ats_unavailable' });
    await open('d');
    expect(await d).toEqual({ accepted: 60, refused: 0 });
    expect(sizes.slice(3)).toEqual([1, 7, 60]);
    expect(h.sharer.status()).toMatchObject({ received: 194, inserted: 187, dropped: 7 });
    await h.sharer.close();
  });

  it('hands batches that arrived in the same event-loop turn to ATS in one message', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', 1)]));
    const turn = [h.sharer.receive({ sessions: [session(1, NOW)] }), h.sharer.receive({ sessions: [session(2, NOW), session(3, NOW)] })];
    expect(await Promise.all(turn)).toEqual([{ accepted: 1, refused: 0 }, { accepted: 2, refused: 0 }]);
    expect(h.imports.map((m) => m.sessions.length)).toEqual([3]);
    await h.sharer.close();
  });

  it('keeps at most 4 frames of a stream waiting for ATS: the stream is paused beyond that, resumed after, every frame imported in order', async () => {
    expect(STREAM_FRAMES_IN_FLIGHT).toBe(4);
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', 1)]));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const importSessions = h.bridge.importSessions.bind(h.bridge);
    const order: string[] = [];
    h.bridge.importSessions = async (batch) => {
      order.push(...batch.sessions.map((x) => x.id.toString('hex'))); // zeroed once handed over
      await gate;
      await importSessions(batch);
    };
    const body = new PassThrough();
    const done = h.sharer.receiveStream(body, peer('ats-b', 1).identities);
    const ids = Array.from({ length: 10 }, (_, i) => Buffer.alloc(32, i + 1));
    for (const id of ids) body.write(encodeSessionFrame([{ id, der: memoryBridgeSessionDer(id, NOW, 300, 180), time: NOW }]));
    body.end();
    await waitFor(() => h.sharer.status().received === 4, 'four frames taken');
    await new Promise((r) => setTimeout(r, 50));
    expect(body.isPaused()).toBe(true);
    expect(h.sharer.status().received).toBe(4); // the other six wait in the stream
    open();
    expect(await done).toEqual({ accepted: 10, refused: 0 });
    expect(order).toEqual(ids.map((id) => id.toString('hex')));
    expect(h.sharer.status()).toMatchObject({ received: 10, inserted: 10, refused: 0 });
    await h.sharer.close();
  });

  it('holds at most 8192 received sessions for ATS; a batch beyond that is refused (503), not queued', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', 1)]));
    const gates: Array<() => void> = [];
    h.bridge.importSessions = async () => {
      await new Promise<void>((resolve) => gates.push(resolve));
    };
    const full = (i: number) => ({ sessions: Array.from({ length: 64 }, (_, j) => session((i * 64 + j) % 256, NOW)) });
    const inFlight = h.sharer.receive(full(0)); // taken by the import at once: not waiting
    await waitFor(() => gates.length === 1, 'the first import');
    const waiting = Array.from({ length: 128 }, (_, i) => h.sharer.receive(full(i + 1))); // 8192 waiting
    await expect(h.sharer.receive(full(200))).rejects.toMatchObject({ status: 503, code: 'ats_unavailable', message: expect.stringMatching(/not keeping up/) });
    expect(h.sharer.status()).toMatchObject({ dropped: 64 });
    h.bridge.importSessions = async () => undefined; // ATS catches up
    gates.shift()!();
    await inFlight;
    expect((await Promise.all(waiting)).every((r) => r.accepted === 64)).toBe(true);
    expect(h.sharer.status()).toMatchObject({ inserted: 129 * 64, dropped: 64 });
    await h.sharer.close();
  });

  it('refuses callers that are no peer (403) and any caller while sharing is off (409), counting each', async () => {
    const h = harness();
    const b = peer('ats-b', 1);
    await h.sharer.configure(config([b]));
    expect(h.sharer.authorizePeer([b.identities[0]!])).toEqual(b);
    expect(() => h.sharer.authorizePeer(['spiffe://ticketkeys.dev/ns/edge/pod/ats-x'])).toThrow(expect.objectContaining({ status: 403, code: 'forbidden' }));
    expect(() => h.sharer.authorizePeer(['spiffe://ticketkeys.dev/operator'])).toThrow(expect.objectContaining({ status: 403 }));
    await h.sharer.configure(config([b], { enabled: false }));
    expect(() => h.sharer.authorizePeer([b.identities[0]!])).toThrow(expect.objectContaining({ status: 409, code: 'sharing_disabled' }));
    expect(h.sharer.status().refused).toBe(3);
    await h.sharer.close();
  });
});

/**
 * A peer agent's stand-in: mutual TLS with pod ats-b's certificate; records every batch, whether
 * it came as a frame of a session stream or (`legacy`: the stream route answers 404, as an agent
 * from before streams does) as a POST /v1/sessions; answers requests when `release` allows.
 */
async function stubPeer(options: { hold?: boolean; legacy?: boolean } = {}): Promise<{ server: Server; port: number; batches: SessionsBatch[]; streams: number; callers: string[]; release(): void; close(): Promise<void> }> {
  const batches: SessionsBatch[] = [];
  const callers: string[] = [];
  const held: Array<() => void> = [];
  let holding = options.hold === true;
  const stub = { streams: 0 };
  const server = createServer({ cert: peerB.cert, key: peerB.key, ca: certs.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    callers.push(String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subjectaltname));
    if (req.url === SESSIONS_STREAM_PATH) {
      if (options.legacy) {
        res.writeHead(404, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error: 'not_found', message: 'no such route' }));
        return;
      }
      stub.streams++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const reader = new SessionFrameReader();
      let accepted = 0;
      req.on('data', (c: Buffer) => {
        for (const frame of reader.push(c)) {
          const sessions = decodeSessionFrame(frame)!;
          batches.push({ sessions: sessions.map((x) => ({ id: x.id.toString('hex'), der: x.der.toString('base64'), time: x.time })) });
          accepted += sessions.length;
        }
      });
      req.on('end', () => res.end(JSON.stringify({ accepted, refused: 0 })));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SessionsBatch;
      batches.push(batch);
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: batch.sessions.length, refused: 0 }));
      if (holding) held.push(answer);
      else answer();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    get streams() {
      return stub.streams;
    },
    server,
    port: (server.address() as AddressInfo).port,
    batches,
    callers,
    release() {
      holding = false;
      for (const a of held.splice(0)) a();
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('sending', () => {
  let stub: Awaited<ReturnType<typeof stubPeer>>;
  beforeAll(async () => {
    stub = await stubPeer();
  });
  afterAll(async () => {
    await stub.close();
  });

  it('batches at most 64 sessions, presents its own certificate, and counts exported and sent; zeroes what it sent', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', stub.port)]));
    const before = stub.batches.length;
    for (let i = 0; i < 130; i++) h.bridge.createSession({ time: NOW });
    await waitFor(() => h.sharer.status().sent === 130 && stub.batches.length === before + 3, 'all 130 sessions delivered');
    const batches = stub.batches.slice(before);
    expect(batches.map((b) => b.sessions.length)).toEqual([64, 64, 2]);
    expect(stub.callers.at(-1)).toContain('URI:spiffe://ticketkeys.dev/ns/edge/pod/ats-a');
    expect(h.sharer.status()).toMatchObject({ exported: 130, sent: 130, dropped: 0 });
    expect(h.exported).toHaveLength(130);
    for (const s of h.exported) expect(s.der.every((b) => b === 0)).toBe(true);
    expect(h.lines.join('\n')).not.toContain(batches[0]!.sessions[0]!.der);
    await h.sharer.close();
  });

  it("reads ATS's sessions at most once per batch delay: an idle pod's first session goes at once, later ones wait in ATS's channel", async () => {
    const h = harness({ batchDelayMs: 60_000 });
    const before = stub.batches.length;
    await h.sharer.configure(config([peer('ats-b', stub.port)]));
    h.bridge.createSession({ time: NOW });
    await waitFor(() => h.sharer.status().sent === 1, 'the first session sent without waiting for the batch delay');
    h.bridge.createSession({ time: NOW });
    h.bridge.createSession({ time: NOW });
    await new Promise((r) => setTimeout(r, 200));
    // Not read yet: the reader paces itself (the memory bridge as the session FIFO's reader).
    expect(h.sharer.status()).toMatchObject({ exported: 1, sent: 1 });
    expect(stub.batches.length).toBe(before + 1);
    await h.sharer.close();
  });

  it("paces the reads by the config's batch interval over the agent's default; a new interval shortens a running pause", async () => {
    const h = harness({ batchDelayMs: 60_000 });
    const before = stub.batches.length;
    await h.sharer.configure(config([peer('ats-b', stub.port)]));
    h.bridge.createSession({ time: NOW });
    await waitFor(() => h.sharer.status().sent === 1, 'the first session sent at once');
    h.bridge.createSession({ time: NOW });
    await new Promise((r) => setTimeout(r, 200));
    expect(h.sharer.status()).toMatchObject({ exported: 1, sent: 1 });
    // The pause began with the agent's 60 s; the config's 1 s now ends it, long before 60 s.
    const c = config([peer('ats-b', stub.port)], { batchIntervalMs: 1000 });
    expect((await h.sharer.configure(c)).configHash).toBe(sessionSharingConfigHash(c));
    await waitFor(() => h.sharer.status().sent === 2, 'the waiting session read once the interval was shortened');
    expect(stub.batches.length - before).toBe(2);
    expect(h.lines.join('\n')).toContain('"batchIntervalMs":1000');
    await h.sharer.close();
  });

  it('sends each session id once, and never one created before the last flush', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', stub.port)]));
    const id = Buffer.alloc(32, 0xab);
    h.bridge.createSession({ id, time: NOW });
    h.bridge.createSession({ id, time: NOW });
    await waitFor(() => h.sharer.status().sent === 1, 'the session delivered');
    h.clock.now = NOW + 5;
    h.sharer.flushing();
    h.bridge.createSession({ time: NOW + 4 });
    await waitFor(() => h.sharer.status().exported === 3, 'the third session read');
    expect(h.sharer.status()).toMatchObject({ exported: 3, sent: 1, dropped: 1 });
    await h.sharer.close();
  });

  it('keeps at most maxEntries sessions waiting (the oldest dropped, counted) while a peer that predates streams is slow', async () => {
    const slow = await stubPeer({ hold: true, legacy: true });
    const h = harness();
    try {
      await h.sharer.configure(config([peer('ats-b', slow.port)], { maxEntries: 10 }));
      // The first session goes to the stream route (404): the link falls back to requests.
      h.bridge.createSession({ time: NOW });
      await waitFor(() => h.sharer.status().dropped === 1, 'the stream refused');
      for (let i = 0; i < 99; i++) h.bridge.createSession({ time: NOW });
      // Staging keeps the newest 10 of the 100; the one batch of them goes out and is held.
      await waitFor(() => slow.batches.length === 1, 'the first batch reached the peer');
      for (let i = 0; i < 30; i++) h.bridge.createSession({ time: NOW });
      await waitFor(() => h.sharer.status().dropped === 90 + 20, 'the backlog bounded at maxEntries');
      slow.release();
      await waitFor(() => h.sharer.status().sent === 20, 'the held batch and the backlog delivered');
      expect(slow.batches.map((b) => b.sessions.length)).toEqual([10, 10]);
      expect(h.sharer.status()).toMatchObject({ exported: 130, sent: 20, dropped: 110 });
    } finally {
      await h.sharer.close();
      await slow.close();
    }
  });

  it('counts deliveries to a dead peer as dropped and still delivers to the live one', async () => {
    const dead = await stubPeer();
    const deadPort = dead.port;
    await dead.close();
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', stub.port), peer('ats-c', deadPort)]));
    for (let i = 0; i < 5; i++) h.bridge.createSession({ time: NOW });
    await waitFor(() => h.sharer.status().sent === 5 && h.sharer.status().dropped === 5, 'one delivery made, one dropped');
    expect(h.lines.some((l) => l.includes('session delivery to peer failed') && l.includes('ats-c'))).toBe(true);
    await h.sharer.close();
  });

  it('refuses a peer whose certificate names another pod (the sessions are dropped, not sent)', async () => {
    const h = harness();
    const before = stub.batches.length;
    await h.sharer.configure(config([{ ...peer('ats-c', stub.port) }]));
    h.bridge.createSession({ time: NOW });
    await waitFor(() => h.sharer.status().dropped === 1, 'the delivery refused');
    expect(stub.batches.length).toBe(before);
    expect(h.lines.join('\n')).toMatch(/the agent certificate names spiffe:\/\/ticketkeys\.dev\/ns\/edge\/pod\/ats-b, not/);
    await h.sharer.close();
  });

  it('sends every batch as a frame of one session stream, not a request per batch', async () => {
    const fresh = await stubPeer();
    const h = harness();
    try {
      await h.sharer.configure(config([peer('ats-b', fresh.port)]));
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 3; i++) h.bridge.createSession({ time: NOW });
        await waitFor(() => h.sharer.status().sent === 3 * (round + 1) && fresh.batches.length === round + 1, `round ${round} delivered`);
      }
      expect(fresh.batches.map((b) => b.sessions.length)).toEqual([3, 3, 3, 3, 3]);
      expect(fresh.streams).toBe(1);
      expect(fresh.callers).toHaveLength(1);
    } finally {
      await h.sharer.close();
      await fresh.close();
    }
  });

  it('falls back to POST /v1/sessions for a peer that predates streams (404), after dropping the batch the stream refused', async () => {
    const old = await stubPeer({ legacy: true });
    const h = harness();
    try {
      await h.sharer.configure(config([peer('ats-b', old.port)]));
      h.bridge.createSession({ time: NOW });
      await waitFor(() => h.sharer.status().dropped === 1, 'the stream refused (404)');
      for (let i = 0; i < 4; i++) h.bridge.createSession({ time: NOW });
      await waitFor(() => h.sharer.status().sent === 4, 'the batch sent as a request');
      expect(old.batches.map((b) => b.sessions.length)).toEqual([4]);
      expect(h.lines.join('\n')).toContain('peer has no session streams');
    } finally {
      await h.sharer.close();
      await old.close();
    }
  });

  it('holds at most maxEntries sessions for a stream that cannot connect; the rest are dropped, counted', async () => {
    // A peer that accepts TCP and never answers the TLS handshake: writes wait for the connection.
    const silent = createNetServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const h = harness();
    try {
      await h.sharer.configure(config([peer('ats-b', (silent.address() as AddressInfo).port)], { maxEntries: 10 }));
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 5; i++) h.bridge.createSession({ time: NOW });
        await waitFor(() => h.sharer.status().exported === 5 * (round + 1), `round ${round} staged`);
        await new Promise((r) => setTimeout(r, 60)); // one batch delay: each round is a frame
      }
      // Two frames of 5 wait for the connection; the other two were refused at once.
      expect(h.sharer.status()).toMatchObject({ exported: 20, sent: 0, dropped: 10 });
      // The connection attempt times out (2 s): the waiting frames are dropped too.
      await waitFor(() => h.sharer.status().dropped === 20, 'the waiting frames dropped', 5000);
      expect(h.lines.join('\n')).toContain('session delivery to peer failed');
    } finally {
      await h.sharer.close();
      silent.close();
    }
  });

  it('turning sharing off closes the export reader and drops what waits', async () => {
    const h = harness();
    await h.sharer.configure(config([peer('ats-b', stub.port)]));
    await h.sharer.configure(config([peer('ats-b', stub.port)], { enabled: false }));
    h.bridge.createSession({ time: NOW });
    expect((await h.bridge.sessionSharingStats()).exportNoReader).toBe(1);
    expect(h.sharer.status()).toMatchObject({ enabled: false, exported: 0 });
    await h.sharer.close();
  });
});
