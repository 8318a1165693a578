// PeerStream against stub peers over real mutual TLS: frames go out on one stream and one
// connection, streams are ended and reopened, frames wait for the peer's
// 200 and are never written into a refused stream, a refusal or a cut connection fails what is in
// flight and the writes of the backoff, after which a new stream works, 404 means "an agent from
// before streams", the peer's identity is checked, and waiting frames are bounded.
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createAgentSecureContext } from '../../../src/agent/client.ts';
import { acceptedAgentIdentities } from '../../../src/agent/identity.ts';
import { PeerStream, StreamUnsupportedError } from '../../../src/agent/peer-stream.ts';
import { decodeSessionFrame, encodeSessionFrame, SessionFrameReader } from '../../../src/agent/session-frames.ts';
import { SESSIONS_STREAM_CONTENT_TYPE, SESSIONS_STREAM_PATH } from '../../../src/contract/agent-wire.ts';
import { issueAgentCert, type DevCerts, type PemPair } from '../../../src/dev/certs.ts';
import { testCerts, waitFor } from './fixtures.ts';

let certs: DevCerts;
let self: PemPair;
let peerB: PemPair;
const closers: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  certs = await testCerts();
  self = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-a' });
  peerB = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-b' });
});

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

afterAll(() => undefined);

const identitiesOf = (pod: string) => acceptedAgentIdentities({ namespace: 'edge', name: pod, serviceAccountName: 'ats' });
const frame = (i: number) => encodeSessionFrame([{ id: Buffer.alloc(32, i), der: Buffer.alloc(100, i), time: 1_800_000_000 }]);

type Behaviour = 'take' | 'refuse403' | 'refuse404' | 'cutAfterFirstFrame';

interface Stub {
  port: number;
  /** The first byte of each frame's first session id, in arrival order. */
  frames: number[];
  streams: number;
  connections: number;
  contentTypes: string[];
  behaviour: Behaviour;
}

async function stubPeer(behaviour: Behaviour = 'take'): Promise<Stub> {
  const stub: Stub = { port: 0, frames: [], streams: 0, connections: 0, contentTypes: [], behaviour };
  const server: Server = createServer({ cert: peerB.cert, key: peerB.key, ca: certs.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    stub.contentTypes.push(String(req.headers['content-type']));
    if (req.url !== SESSIONS_STREAM_PATH) {
      res.writeHead(404).end();
      return;
    }
    if (stub.behaviour === 'refuse403' || stub.behaviour === 'refuse404') {
      const status = stub.behaviour === 'refuse403' ? 403 : 404;
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end('{"error":"forbidden","message":"no"}');
      return;
    }
    stub.streams++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const reader = new SessionFrameReader();
    req.on('data', (c: Buffer) => {
      for (const f of reader.push(c)) {
        stub.frames.push(decodeSessionFrame(f)![0]!.id[0]!);
        if (stub.behaviour === 'cutAfterFirstFrame') req.socket.destroy();
      }
    });
    req.on('end', () => res.end('{"accepted":0,"refused":0}'));
  });
  server.on('secureConnection', (s: TLSSocket) => {
    stub.connections++;
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  stub.port = (server.address() as AddressInfo).port;
  closers.push(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  return stub;
}

function streamTo(port: number, options: { identities?: readonly string[]; maxStreamMs?: number; backoffMs?: number; timeoutMs?: number; maxBufferedBytes?: number } = {}): PeerStream {
  const s = new PeerStream({
    host: '127.0.0.1',
    port,
    secureContext: createAgentSecureContext({ ca: certs.ca.cert, cert: self.cert, key: self.key }),
    identities: options.identities ?? identitiesOf('ats-b'),
    ...options,
  });
  closers.push(() => s.close());
  return s;
}

describe('PeerStream', () => {
  it('writes frames in order on one stream over one connection, with the stream media type', async () => {
    const stub = await stubPeer();
    const s = streamTo(stub.port);
    for (let i = 1; i <= 5; i++) await s.write(frame(i));
    await waitFor(() => stub.frames.length === 5, 'five frames at the peer');
    expect(stub.frames).toEqual([1, 2, 3, 4, 5]);
    expect([stub.streams, stub.connections]).toEqual([1, 1]);
    expect(stub.contentTypes).toEqual([SESSIONS_STREAM_CONTENT_TYPE]);
  });

  it('ends each stream after maxStreamMs (the peer answers it) and opens the next on the next write', async () => {
    const stub = await stubPeer();
    const s = streamTo(stub.port, { maxStreamMs: 100 });
    await s.write(frame(1));
    await new Promise((r) => setTimeout(r, 300));
    await s.write(frame(2));
    await waitFor(() => stub.frames.length === 2, 'both frames at the peer');
    expect(stub.streams).toBe(2);
  });

  it('a peer that refuses the stream (403): the frame is never written, writes fail for the backoff, then it tries again', async () => {
    const stub = await stubPeer('refuse403');
    const s = streamTo(stub.port, { backoffMs: 300 });
    await expect(s.write(frame(1))).rejects.toThrow(/HTTP 403/);
    await expect(s.write(frame(2))).rejects.toThrow(/HTTP 403/); // within the backoff: no new attempt
    expect(stub.contentTypes).toHaveLength(1);
    stub.behaviour = 'take';
    await new Promise((r) => setTimeout(r, 350));
    await s.write(frame(3));
    await waitFor(() => stub.frames.length === 1, 'the frame after the backoff');
    expect(stub.frames).toEqual([3]);
  });

  it('404: the peer predates streams (StreamUnsupportedError, unsupported), and nothing is written', async () => {
    const stub = await stubPeer('refuse404');
    const s = streamTo(stub.port);
    await expect(s.write(frame(1))).rejects.toThrow(StreamUnsupportedError);
    expect(s.unsupported).toBe(true);
    await expect(s.write(frame(2))).rejects.toThrow(StreamUnsupportedError);
    expect(stub.frames).toEqual([]);
  });

  it('a connection cut mid-stream fails the stream; after the backoff a new stream carries frames again', async () => {
    const stub = await stubPeer('cutAfterFirstFrame');
    const s = streamTo(stub.port, { backoffMs: 200 });
    await s.write(frame(1));
    await waitFor(() => stub.frames.length === 1, 'the first frame at the peer');
    stub.behaviour = 'take';
    // The cut shows as failed writes until the backoff is over, never as a stream stuck for good.
    await waitFor(async () => {
      try {
        await s.write(frame(9));
        return stub.frames.length >= 2;
      } catch {
        return false;
      }
    }, 'a new stream after the cut');
    expect(stub.streams).toBeGreaterThanOrEqual(2);
  });

  it("refuses a peer whose certificate names another pod, and writes nothing to it", async () => {
    const stub = await stubPeer();
    const s = streamTo(stub.port, { identities: identitiesOf('ats-c') });
    await expect(s.write(frame(1))).rejects.toThrow(/the agent certificate names .*ats-b, not/);
    expect(stub.frames).toEqual([]);
  });

  it('a peer that never answers: frames wait up to maxBufferedBytes, more are refused at once, the waiting ones fail after timeoutMs', async () => {
    const silent = createNetServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    closers.push(() => silent.close());
    const one = frame(1);
    const s = streamTo((silent.address() as AddressInfo).port, { maxBufferedBytes: 2 * one.length, timeoutMs: 300 });
    const first = s.write(frame(1));
    const second = s.write(frame(2));
    await expect(s.write(frame(3))).rejects.toThrow(/not keeping up/);
    await expect(first).rejects.toThrow();
    await expect(second).rejects.toThrow();
  });
});
