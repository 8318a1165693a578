// Session sharing between three real agents (startAgent, MemoryBridge) over real mutual TLS, as
// the operator configures them: a session made on A reaches B and C; who may call what
// (POST /v1/sessions only for peers of the current configuration, every other route only for
// the operator); the route's own body limit; hostile input answered 4xx while the ring API keeps
// answering; a flush (revoke) stops sessions from before it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startAgent, type RunningAgent } from '../../../src/agent/agent.ts';
import { AgentClient, type AgentClientTls } from '../../../src/agent/client.ts';
import { acceptedAgentIdentities, OPERATOR_IDENTITY } from '../../../src/agent/identity.ts';
import { MemoryBridge, memoryBridgeSessionDer } from '../../../src/agent/memory-bridge.ts';
import { SessionSharingStatus, type Peer, type SessionsBatch } from '../../../src/agent/protocol.ts';
import { SESSIONS_BODY_LIMIT_BYTES, SESSIONS_STREAM_CONTENT_TYPE, SESSIONS_STREAM_PATH } from '../../../src/contract/agent-wire.ts';
import { encodeSessionFrame } from '../../../src/agent/session-frames.ts';
import { issueAgentCert, issueCert, type DevCerts, type PemPair } from '../../../src/dev/certs.ts';
import { agentError } from '../../../dev/agent-process.ts';
import { newKey } from '../../fixtures/keys.ts';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { capturedLogger, ringBody, testCerts, waitFor } from './fixtures.ts';

const NS = 'edge';
const PODS = ['ats-a', 'ats-b', 'ats-c'] as const;
type Pod = (typeof PODS)[number];

interface Node {
  pod: Pod;
  cert: PemPair;
  bridge: MemoryBridge;
  agent: RunningAgent;
  operator: AgentClient;
  lines: string[];
}

let certs: DevCerts;
const nodes = {} as Record<Pod, Node>;
const clients: AgentClient[] = [];

function url(n: Node): string {
  return `https://127.0.0.1:${n.agent.api.port}`;
}

function peerOf(n: Node): Peer {
  return { name: n.pod, address: `127.0.0.1:${n.agent.api.port}`, identities: acceptedAgentIdentities({ namespace: NS, name: n.pod, serviceAccountName: 'ats' }) };
}

/** What the operator sends each pod: every other pod as a peer. */
async function configureAll(enabled = true, ttlSeconds = 300): Promise<void> {
  for (const n of Object.values(nodes)) {
    const peers = Object.values(nodes).filter((o) => o !== n).map(peerOf);
    await n.operator.putSessionSharing({ enabled, ttlSeconds, maxEntries: 1000, peers });
  }
}

/** A client calling `to` with the certificate `as` (the agent's CA, any agent identity accepted). */
function clientAs(to: Node, as: PemPair): AgentClient {
  const tls: AgentClientTls = { ca: certs.ca.cert, cert: as.cert, key: as.key, agentIdentities: acceptedAgentIdentities({ namespace: NS, name: to.pod, serviceAccountName: 'ats' }) };
  const c = new AgentClient({ baseUrl: url(to), tls, timeoutMs: 3000 });
  clients.push(c);
  return c;
}

function batch(ids: number[], time = Math.floor(Date.now() / 1000)): SessionsBatch {
  return {
    sessions: ids.map((i) => {
      const id = Buffer.alloc(32, i);
      return { id: id.toString('hex'), der: memoryBridgeSessionDer(id, time, 300, 200).toString('base64'), time };
    }),
  };
}

beforeAll(async () => {
  certs = await testCerts();
  for (const pod of PODS) {
    const cert = await issueAgentCert(certs.ca, { namespace: NS, pod });
    const bridge = new MemoryBridge();
    const { logger, lines } = capturedLogger(pod);
    const agent = await startAgent({
      listen: { host: '127.0.0.1', port: 0 },
      healthListen: { host: '127.0.0.1', port: 0 },
      tls: { cert: cert.cert, key: cert.key, clientCa: certs.ca.cert },
      bridge,
      logger,
      readbackDeadlineMs: 500,
      reassertIntervalMs: 50,
    });
    const operator = new AgentClient({
      baseUrl: `https://127.0.0.1:${agent.api.port}`,
      tls: { ca: certs.ca.cert, ...certs.operator, agentIdentities: acceptedAgentIdentities({ namespace: NS, name: pod, serviceAccountName: 'ats' }) },
    });
    nodes[pod] = { pod, cert, bridge, agent, operator, lines };
  }
  await configureAll();
});

afterAll(async () => {
  for (const c of clients) await c.close();
  for (const n of Object.values(nodes)) {
    await n.operator.close();
    await n.agent.close();
  }
});

describe('agents share sessions over mutual TLS', () => {
  it('a session made on A reaches B and C, and every counter says so', async () => {
    const { 'ats-a': a, 'ats-b': b, 'ats-c': c } = nodes;
    const s = a.bridge.createSession();
    const id = s.id.toString('hex');
    await waitFor(() => b.bridge.hasSession(id) && c.bridge.hasSession(id), 'the session on B and C');
    const statusA = (await a.operator.getRing()).sessionSharing;
    expect(TypeCompiler.Compile(SessionSharingStatus).Check(statusA)).toBe(true);
    expect(statusA).toMatchObject({ enabled: true, peers: 2, exported: 1, sent: 2, dropped: 0, refused: 0 });
    const statsB = await b.operator.sessionCacheStats();
    expect(statsB.sharing).toMatchObject({ received: 1, inserted: 1, refused: 0 });
    expect(await b.agent.metrics.registry.getSingleMetricAsString('tko_agent_session_sharing_sessions_total')).toMatch(/direction="inserted"} 1/);
    // B and C do not send it on (the id came from a peer).
    expect((await c.operator.getRing()).sessionSharing).toMatchObject({ exported: 0, sent: 0 });
    for (const n of [a, b, c]) expect(n.lines.join('\n')).not.toContain(s.der.toString('base64'));
  });

  it('a full batch of 64 sessions is above the 8 KiB limit of the other routes and still accepted', async () => {
    const body = batch(Array.from({ length: 64 }, (_, i) => 100 + i));
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(8 * 1024);
    expect(await clientAs(nodes['ats-b'], nodes['ats-a'].cert).postSessions(body)).toEqual({ accepted: 64, refused: 0 });
    expect(nodes['ats-b'].bridge.hasSession(body.sessions[63]!.id)).toBe(true);
  });
});

describe('who may call what', () => {
  it("refuses the operator's certificate on POST /v1/sessions (403)", async () => {
    const err = await agentError(nodes['ats-b'].operator.postSessions(batch([1])));
    expect([err.status, err.code]).toEqual([403, 'forbidden']);
    expect(nodes['ats-b'].bridge.hasSession(Buffer.alloc(32, 1).toString('hex'))).toBe(false);
  });

  it("refuses a peer's certificate on every other route (403)", async () => {
    const asA = clientAs(nodes['ats-b'], nodes['ats-a'].cert);
    for (const call of [asA.getRing(), asA.putRing(ringBody(1, [newKey()])), asA.flushSessionCache(), asA.sessionCacheStats(), asA.putSessionSharing({ enabled: false, ttlSeconds: 1, maxEntries: 1, peers: [] })]) {
      const err = await agentError(call);
      expect([err.status, err.code]).toEqual([403, 'forbidden']);
    }
    expect(nodes['ats-b'].bridge.installCalls).toBe(0);
  });

  it('refuses an agent of the same CA that is no peer of the current configuration (403)', async () => {
    const stranger = await issueAgentCert(certs.ca, { namespace: NS, pod: 'ats-x' });
    const err = await agentError(clientAs(nodes['ats-b'], stranger).postSessions(batch([2])));
    expect([err.status, err.code]).toEqual([403, 'forbidden']);
  });

  it("refuses a peer's identity on a certificate without clientAuth (the handshake or the guard)", async () => {
    const serverOnly = await issueCert(certs.ca, { commonName: 'ats-a', usage: 'server', uris: [acceptedAgentIdentities({ namespace: NS, name: 'ats-a' })[0]] });
    const err = await agentError(clientAs(nodes['ats-b'], serverOnly).postSessions(batch([3])));
    expect([0, 403]).toContain(err.status);
    expect(nodes['ats-b'].bridge.hasSession(Buffer.alloc(32, 3).toString('hex'))).toBe(false);
  });

  it('refuses the operator identity even as a listed peer identity (400: peers are agent identities only)', async () => {
    const err = await agentError(nodes['ats-b'].operator.putSessionSharing({ enabled: true, ttlSeconds: 300, maxEntries: 10, peers: [{ name: 'op', address: '127.0.0.1:1', identities: [OPERATOR_IDENTITY] }] }));
    expect([err.status, err.code]).toEqual([400, 'bad_request']);
  });
});

describe('hostile input', () => {
  it('answers 4xx to oversized, malformed and invalid batches, and the ring API keeps answering', async () => {
    const asA = clientAs(nodes['ats-b'], nodes['ats-a'].cert);
    const raw = async (body: string, type = 'application/json'): Promise<number> => {
      const res = await fetchAs(nodes['ats-b'], nodes['ats-a'].cert, body, type);
      return res;
    };
    expect(await raw('x'.repeat(SESSIONS_BODY_LIMIT_BYTES + 1))).toBe(413);
    expect(await raw('{"sessions": [')).toBe(400);
    expect(await raw('{}', 'text/plain')).toBe(415);
    expect(await raw(JSON.stringify({ sessions: [{ id: 'zz', der: 'AAAA', time: 1 }] }))).toBe(400);
    const truncated = batch([4]);
    truncated.sessions[0]!.der = truncated.sessions[0]!.der.slice(0, 20);
    const oversized = batch([5]);
    oversized.sessions[0]!.der = Buffer.alloc(257, 7).toString('base64');
    const old = batch([6], Math.floor(Date.now() / 1000) - 3600);
    const answer = await asA.postSessions({ sessions: [...truncated.sessions, ...oversized.sessions, ...old.sessions] });
    // The truncated DER has a valid size: ATS (here the memory bridge) refuses it when decoding.
    expect(answer).toEqual({ accepted: 1, refused: 2 });
    expect(nodes['ats-b'].bridge.importRefusals.undecodable).toBeGreaterThanOrEqual(1);
    expect((await nodes['ats-b'].operator.getRing()).ats).toBeDefined();
  });
});

describe('session streams (POST /v1/sessions/stream)', () => {
  const frameOf = (ids: number[], time = Math.floor(Date.now() / 1000)) =>
    encodeSessionFrame(ids.map((i) => ({ id: Buffer.alloc(32, i), der: memoryBridgeSessionDer(Buffer.alloc(32, i), time, 300, 200), time })));

  it("a peer's stream is taken at once (200), each frame's sessions reach ATS, and the totals come when it ends", async () => {
    const s = await openStream(nodes['ats-b'], nodes['ats-a'].cert);
    expect(await s.status).toBe(200);
    s.write(frameOf([0x41, 0x42]));
    await waitFor(() => nodes['ats-b'].bridge.hasSession(Buffer.alloc(32, 0x41).toString('hex')), 'the first frame imported');
    s.write(frameOf([0x43], Math.floor(Date.now() / 1000) - 3600)); // older than the ttl: refused
    s.end();
    expect(JSON.parse(await s.body)).toEqual({ accepted: 2, refused: 1 });
    expect(nodes['ats-b'].bridge.hasSession(Buffer.alloc(32, 0x42).toString('hex'))).toBe(true);
    expect(nodes['ats-b'].bridge.hasSession(Buffer.alloc(32, 0x43).toString('hex'))).toBe(false);
  });

  it("refuses the operator's certificate and an agent that is no peer (403), and another media type (415), before taking the stream", async () => {
    const outsider = await issueAgentCert(certs.ca, { namespace: NS, pod: 'ats-z' });
    expect(await (await openStream(nodes['ats-b'], { cert: certs.operator.cert, key: certs.operator.key })).status).toBe(403);
    expect(await (await openStream(nodes['ats-b'], outsider)).status).toBe(403);
    expect(await (await openStream(nodes['ats-b'], nodes['ats-a'].cert, 'application/json')).status).toBe(415);
  });

  it.each([
    ['a frame length out of range', () => Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ['text instead of frames', () => Buffer.from('{"sessions":[]}')],
    ['a frame that is not a batch', () => Buffer.from([0, 0, 0, 3, 1, 1, 0])],
  ])('cuts the connection on %s, counts it refused, and keeps serving', async (_name, bytes) => {
    const refusedBefore = ((await nodes['ats-b'].operator.getRing()).sessionSharing as SessionSharingStatus).refused;
    const s = await openStream(nodes['ats-b'], nodes['ats-a'].cert);
    expect(await s.status).toBe(200);
    s.write(bytes());
    expect(await s.outcome).toBe('cut');
    expect(((await nodes['ats-b'].operator.getRing()).sessionSharing as SessionSharingStatus).refused).toBe(refusedBefore + 1);
    expect((await nodes['ats-b'].operator.getRing()).ats).toBeDefined();
  });

  it('cuts a stream whose body ends inside a frame', async () => {
    const s = await openStream(nodes['ats-b'], nodes['ats-a'].cert);
    expect(await s.status).toBe(200);
    s.write(frameOf([0x44]).subarray(0, 20));
    s.end();
    expect(await s.outcome).toBe('cut');
  });

  it('a peer dropped from the configuration mid-stream: its next frame cuts the stream, and nothing of it is imported', async () => {
    const s = await openStream(nodes['ats-b'], nodes['ats-a'].cert);
    expect(await s.status).toBe(200);
    s.write(frameOf([0x45]));
    await waitFor(() => nodes['ats-b'].bridge.hasSession(Buffer.alloc(32, 0x45).toString('hex')), 'imported while A is a peer');
    await nodes['ats-b'].operator.putSessionSharing({ enabled: true, ttlSeconds: 300, maxEntries: 1000, peers: [peerOf(nodes['ats-c'])] });
    s.write(frameOf([0x46]));
    expect(await s.outcome).toBe('cut');
    expect(nodes['ats-b'].bridge.hasSession(Buffer.alloc(32, 0x46).toString('hex'))).toBe(false);
    await configureAll();
  });
});

describe('sharing off, and revoke', () => {
  it('a flush on every pod (revoke) refuses and stops sessions created before it', async () => {
    const before = Math.floor(Date.now() / 1000);
    for (const n of Object.values(nodes)) await n.operator.flushSessionCache();
    const replay = await clientAs(nodes['ats-c'], nodes['ats-a'].cert).postSessions(batch([7], before));
    expect(replay).toEqual({ accepted: 0, refused: 1 });
    const s = nodes['ats-a'].bridge.createSession({ time: before });
    const sentBefore = ((await nodes['ats-a'].operator.getRing()).sessionSharing as SessionSharingStatus).sent;
    // The agent's notBefore is the second after its flush: at most now + 1.
    const fresh = nodes['ats-a'].bridge.createSession({ time: Math.floor(Date.now() / 1000) + 1 });
    const freshId = fresh.id.toString('hex');
    await waitFor(() => nodes['ats-b'].bridge.hasSession(freshId) && nodes['ats-c'].bridge.hasSession(freshId), 'a session made after the flush still shared');
    expect(nodes['ats-b'].bridge.hasSession(s.id.toString('hex'))).toBe(false);
    expect(((await nodes['ats-a'].operator.getRing()).sessionSharing as SessionSharingStatus).sent).toBe(sentBefore + 2);
  });

  it('with sharing off, POST /v1/sessions from a peer is 409 sharing_disabled and nothing is sent', async () => {
    await configureAll(false);
    const err = await agentError(clientAs(nodes['ats-b'], nodes['ats-a'].cert).postSessions(batch([8])));
    expect([err.status, err.code]).toEqual([409, 'sharing_disabled']);
    const s = nodes['ats-a'].bridge.createSession();
    expect((await nodes['ats-a'].bridge.sessionSharingStats()).exportNoReader).toBeGreaterThanOrEqual(1);
    expect(nodes['ats-b'].bridge.hasSession(s.id.toString('hex'))).toBe(false);
    expect((await nodes['ats-a'].operator.getRing()).sessionSharing).toMatchObject({ enabled: false });
  });
});

/** A raw POST /v1/sessions with a given body and media type; returns the HTTP status. */
async function fetchAs(to: Node, as: PemPair, body: string, type: string): Promise<number> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: to.agent.api.port, method: 'POST', path: '/v1/sessions', ca: certs.ca.cert, cert: as.cert, key: as.key, checkServerIdentity: () => undefined, headers: { 'content-type': type } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface RawStream {
  /** The answer's status: 200 once the stream is taken. */
  status: Promise<number>;
  /** The answer's body, once it ended. */
  body: Promise<string>;
  /** 'ended' when the answer completed, 'cut' when the connection was cut. */
  outcome: Promise<'ended' | 'cut'>;
  write(bytes: Buffer): void;
  end(): void;
}

/** A raw POST /v1/sessions/stream as `as`, its body written by the test. */
async function openStream(to: Node, as: { cert: string; key: string }, type = SESSIONS_STREAM_CONTENT_TYPE): Promise<RawStream> {
  const { request } = await import('node:https');
  let resolveStatus!: (n: number) => void;
  let resolveBody!: (b: string) => void;
  let resolveOutcome!: (o: 'ended' | 'cut') => void;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const body = new Promise<string>((r) => (resolveBody = r));
  const outcome = new Promise<'ended' | 'cut'>((r) => (resolveOutcome = r));
  const req = request(
    { host: '127.0.0.1', port: to.agent.api.port, method: 'POST', path: SESSIONS_STREAM_PATH, ca: certs.ca.cert, cert: as.cert, key: as.key, checkServerIdentity: () => undefined, headers: { 'content-type': type } },
    (res) => {
      resolveStatus(res.statusCode ?? 0);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolveBody(Buffer.concat(chunks).toString('utf8'));
        resolveOutcome('ended');
      });
      res.on('error', () => resolveOutcome('cut'));
      res.on('aborted', () => resolveOutcome('cut'));
    },
  );
  req.on('error', () => {
    resolveStatus(0);
    resolveOutcome('cut');
  });
  req.on('close', () => resolveOutcome('cut'));
  req.flushHeaders();
  return { status, body, outcome, write: (b) => void req.write(b), end: () => void req.end() };
}
