// One agent's session stream to one peer: a long-lived POST /v1/sessions/stream over mutual TLS
// whose body is a sequence of binary frames (session-frames.ts). A batch then costs one TLS write
// here and one read on the peer, not an HTTPS request and its answer on both agents.
//
//   const s = new PeerStream({ host, port, secureContext, identities })
//   await s.write(frame)      resolves once the frame is on the connection; rejects when it is not
//   await s.close()
//
// The peer's certificate must chain to the CA bundle (secureContext) and name one of the peer's
// identities, as the operator verifies agents. The peer answers a stream at once (200 when it takes
// it), so frames wait for that answer and none is written into a stream the peer refuses. A stream
// is ended after maxStreamMs (the peer's request timeout is 30 s), or after timeoutMs without a
// frame, and the next write opens another on a new connection (one TLS handshake per stream).
// Any failure (no connection, a refused certificate, an answer that is not 200, a broken
// connection) fails the frames in flight and every write for backoffMs, so a dead peer costs one
// connection attempt per backoff, not one per batch. A peer that answers
// 404 predates session streams: StreamUnsupportedError, and the caller falls back to
// POST /v1/sessions. At most maxBufferedBytes wait for the connection; beyond that a write is
// refused at once (the peer or the network is not keeping up).
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent, request, type RequestOptions } from 'node:https';
import type { PeerCertificate, SecureContext } from 'node:tls';
import { SESSIONS_STREAM_CONTENT_TYPE, SESSIONS_STREAM_MAX_MS, SESSIONS_STREAM_PATH } from '../contract/agent-wire.ts';
import { checkAgentIdentity } from './client.ts';

export interface PeerStreamOptions {
  host: string;
  port: number;
  /** CA bundle, this agent's certificate and key (its client certificate). */
  secureContext: SecureContext;
  /** URI SANs of which the peer's certificate must carry one. */
  identities: readonly string[];
  /** Default SESSIONS_STREAM_MAX_MS. */
  maxStreamMs?: number;
  /** After a failure, writes fail at once for this long (default 1000 ms). */
  backoffMs?: number;
  /** Connecting, and each write reaching the connection (default 2000 ms). */
  timeoutMs?: number;
  /** Default 1 MiB. */
  maxBufferedBytes?: number;
}

/** The peer has no session stream route (an agent from before them). */
export class StreamUnsupportedError extends Error {
  override name = 'StreamUnsupportedError';
}

/** Largest answer read from a peer; it is a few dozen bytes of JSON. */
const ANSWER_LIMIT_BYTES = 4096;

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface Stream {
  req: ClientRequest;
  /** The peer answered 200: it takes frames. Until then they wait in `waiting`. */
  accepted: boolean;
  waiting: Array<{ frame: Buffer; pending: Pending }>;
  waitingBytes: number;
  pending: Set<Pending>;
  endTimer: NodeJS.Timeout;
  ended: boolean;
  failed: boolean;
}

export class PeerStream {
  readonly #options: Required<Omit<PeerStreamOptions, 'identities'>> & { identities: readonly string[] };
  readonly #agent: Agent;
  #stream: Stream | undefined;
  #failedUntil = 0;
  #lastError: Error | undefined;
  #unsupported = false;
  #closed = false;

  constructor(options: PeerStreamOptions) {
    this.#options = { maxStreamMs: SESSIONS_STREAM_MAX_MS, backoffMs: 1000, timeoutMs: 2000, maxBufferedBytes: 1024 * 1024, ...options };
    // One connection per peer at a time.
    this.#agent = new Agent({ keepAlive: false, maxSockets: 1 });
  }

  /** True once the peer answered 404: it predates session streams. */
  get unsupported(): boolean {
    return this.#unsupported;
  }

  write(frame: Buffer): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the session stream is closed'));
    if (this.#unsupported) return Promise.reject(new StreamUnsupportedError('the peer has no session stream route'));
    if (Date.now() < this.#failedUntil) return Promise.reject(this.#lastError ?? new Error('the peer is unreachable'));
    const stream = this.#stream ?? this.#open();
    if (stream.waitingBytes + stream.req.writableLength + frame.length > this.#options.maxBufferedBytes) {
      return Promise.reject(new Error('the session stream to the peer is not keeping up'));
    }
    return new Promise<void>((resolve, reject) => {
      const p: Pending = {
        resolve,
        reject,
        timer: setTimeout(() => this.#fail(stream, new Error(`no progress on the session stream for ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs),
      };
      stream.pending.add(p);
      if (stream.accepted) this.#send(stream, frame, p);
      else {
        stream.waiting.push({ frame, pending: p });
        stream.waitingBytes += frame.length;
      }
    });
  }

  #send(stream: Stream, frame: Buffer, p: Pending): void {
    stream.req.write(frame, (err?: Error | null) => {
      if (!stream.pending.delete(p)) return; // already failed
      clearTimeout(p.timer);
      if (err) p.reject(err);
      else p.resolve();
    });
  }

  #open(): Stream {
    const o = this.#options;
    // secureContext reaches tls.connect through the agent (RequestOptions does not declare it).
    const options: RequestOptions & { secureContext: SecureContext } = {
      host: o.host,
      port: o.port,
      method: 'POST',
      path: SESSIONS_STREAM_PATH,
      headers: { 'content-type': SESSIONS_STREAM_CONTENT_TYPE },
      agent: this.#agent,
      secureContext: o.secureContext,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      // Peers are dialled by IP: the identity is the URI SAN, never a host name.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkAgentIdentity(cert, o.identities),
      timeout: o.timeoutMs,
    };
    const req = request(options);
    const stream: Stream = {
      req,
      accepted: false,
      waiting: [],
      waitingBytes: 0,
      pending: new Set(),
      ended: false,
      failed: false,
      endTimer: setTimeout(() => this.#end(stream), o.maxStreamMs),
    };
    req.flushHeaders();
    req.on('error', (err) => this.#fail(stream, err));
    // A connection cut after the answer began surfaces on the response, or only as a close.
    req.on('close', () => {
      if (this.#stream === stream || stream.pending.size > 0) this.#fail(stream, new Error('the peer closed the session stream'));
    });
    // `timeout` bounds connecting and idle sockets; an idle stream is simply ended.
    req.on('timeout', () => (stream.pending.size > 0 ? this.#fail(stream, new Error('the session stream timed out')) : this.#end(stream)));
    req.on('response', (res) => this.#answer(stream, res));
    this.#stream = stream;
    return stream;
  }

  /**
   * The peer answers at once: 200 when it takes the stream (the frames that waited go out), or
   * why not (404: a peer from before streams; 403, 409: not a peer, sharing off). The body of a
   * 200 ends after ours did.
   */
  #answer(stream: Stream, res: IncomingMessage): void {
    const status = res.statusCode ?? 0;
    if (status === 200 && !stream.ended) {
      stream.accepted = true;
      for (const w of stream.waiting.splice(0)) this.#send(stream, w.frame, w.pending);
      stream.waitingBytes = 0;
    }
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > ANSWER_LIMIT_BYTES) res.destroy();
    });
    res.on('error', (err) => this.#fail(stream, err));
    res.on('end', () => {
      if (status === 200 && stream.ended && stream.pending.size === 0) {
        this.#detach(stream);
        return;
      }
      if (status === 404) this.#unsupported = true;
      this.#fail(stream, status === 404 ? new StreamUnsupportedError('the peer has no session stream route') : new Error(`the peer answered the session stream with HTTP ${status}`));
    });
  }

  /** Ends the stream's body after the frames written so far; the next write opens a new one. */
  #end(stream: Stream): void {
    if (stream.ended) return;
    if (!stream.accepted) {
      // Still waiting for the peer's answer: end it once that came (or failed).
      if (stream.pending.size > 0) {
        stream.endTimer = setTimeout(() => this.#end(stream), this.#options.timeoutMs);
        return;
      }
    }
    stream.ended = true;
    clearTimeout(stream.endTimer);
    if (this.#stream === stream) this.#stream = undefined;
    stream.req.end();
  }

  #detach(stream: Stream): void {
    clearTimeout(stream.endTimer);
    if (this.#stream === stream) this.#stream = undefined;
  }

  #fail(stream: Stream, err: Error): void {
    if (stream.failed) return;
    stream.failed = true;
    this.#detach(stream);
    stream.ended = true;
    if (!(err instanceof StreamUnsupportedError)) {
      this.#failedUntil = Date.now() + this.#options.backoffMs;
      this.#lastError = err;
    }
    for (const p of stream.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    stream.pending.clear();
    stream.waiting = [];
    stream.waitingBytes = 0;
    stream.req.destroy();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const stream = this.#stream;
    if (stream) this.#fail(stream, new Error('the session stream is closed'));
    this.#agent.destroy();
  }
}
