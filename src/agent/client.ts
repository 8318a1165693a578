// The operator's client for the agent API: mutual TLS over undici, the agent's certificate
// verified against the operator CA bundle and bound to the pod dialled (a URI SAN naming that
// pod or its service account, see identity.ts; pods are dialled by IP, so no host name is
// checked), one deadline per request that covers the whole exchange (connect, headers, body),
// a bounded response body, responses checked against the protocol schemas, and one error type
// that carries the HTTP status. Error messages never contain the request body.
import { createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Agent, type Dispatcher } from 'undici';
import { ExchangeError } from '../observability/describe-error.ts';
import { parseAgentIdentity, SERVER_AUTH_EKU, uriSans } from './identity.ts';
import {
  ErrorResponse,
  GetRingResponse,
  PutRingResponse,
  SessionCacheStatsResponse,
  SessionSharingStatus,
  SessionsBatchResponse,
  type PutRingRequest,
  type SessionSharingConfig,
  type SessionsBatch,
} from './protocol.ts';

export interface AgentClientTls {
  /** The operator CA bundle (one or more CA certificates) that signs the agents' serving certificates. */
  ca: string | Buffer;
  /** The operator's client certificate and key. */
  cert: string | Buffer;
  key: string | Buffer;
  /**
   * URI SANs of which the agent's certificate must carry one (acceptedAgentIdentities of the pod
   * dialled). Omitted: any agent identity of the trust domain, for tools and tests only; the
   * operator always names the pod.
   */
  agentIdentities?: readonly string[];
  /**
   * ca, cert and key already parsed (createAgentSecureContext): an operator dialling thousands of
   * pods shares one instead of OpenSSL parsing the bundle and key again for every connection.
   */
  secureContext?: SecureContext;
}

/** One OpenSSL context for every connection made with this material. */
export function createAgentSecureContext(tls: Pick<AgentClientTls, 'ca' | 'cert' | 'key'>): SecureContext {
  return createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
}

/** Largest response body read from an agent; the protocol's answers are a few hundred bytes. */
export const RESPONSE_LIMIT_BYTES = 64 * 1024;

export type AgentErrorCode =
  | ErrorResponse['error']
  /**
   * No HTTP answer: connection refused or reset, or the agent refused our certificate (with
   * TLS 1.3 that surfaces as a closed socket, not as a TLS error).
   */
  | 'unreachable'
  /** We refused the agent's certificate (wrong CA, not the pod dialled, expired). */
  | 'tls'
  | 'timeout'
  /** The agent answered something that is not the protocol. */
  | 'bad_response';

/** `status`: the HTTP status, 0 when no HTTP answer arrived; `code`: what went wrong. */
export class AgentError extends ExchangeError<AgentErrorCode> {
  override name = 'AgentError';
  readonly peer = 'agent';
  /** From Retry-After on 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, code: AgentErrorCode, message: string, retryAfterSeconds?: number, cause?: unknown) {
    super(status, code, message, cause === undefined ? undefined : { cause });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface AgentClientOptions {
  /** e.g. https://10.1.2.3:9443 */
  baseUrl: string;
  /** TLS material; required unless a shared `dispatcher` is given. */
  tls?: AgentClientTls;
  /** Share one from createAgentDispatcher across the clients of many pods. */
  dispatcher?: Dispatcher;
  /** Per request, the whole exchange: connect, headers and body. Default 5000 ms. */
  timeoutMs?: number;
  /** Default RESPONSE_LIMIT_BYTES. */
  maxResponseBytes?: number;
}

/**
 * Whether an agent certificate (its chain already verified against the CA bundle) speaks for
 * the pod dialled: undefined when it does, else the error the connection fails with.
 */
export function checkAgentIdentity(cert: PeerCertificate, accepted: readonly string[] | undefined): Error | undefined {
  const eku = cert.ext_key_usage;
  // No EKU at all is cert-manager's default; one that excludes serverAuth (a client certificate) is no agent's.
  if (eku && eku.length > 0 && !eku.includes(SERVER_AUTH_EKU)) return identityError('the agent certificate is not for server authentication');
  const uris = uriSans(cert.subjectaltname);
  const ok = accepted ? uris.some((u) => accepted.includes(u)) : uris.some((u) => parseAgentIdentity(u) !== undefined);
  if (ok) return undefined;
  const found = uris.length > 0 ? uris.join(', ') : 'no URI SAN';
  const wanted = accepted ? accepted.join(' or ') : 'an agent identity';
  return identityError(`the agent certificate names ${found}, not ${wanted}`);
}

function identityError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_TLS_AGENT_IDENTITY' });
}

/** An undici dispatcher speaking mTLS to agents, bound to the identities in `tls`. */
export function createAgentDispatcher(tls: AgentClientTls, options: { connectTimeoutMs?: number; keepAliveMs?: number } = {}): Agent {
  const accepted = tls.agentIdentities;
  return new Agent({
    connect: {
      ...(tls.secureContext ? { secureContext: tls.secureContext } : { ca: tls.ca, cert: tls.cert, key: tls.key }),
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      // Pods are dialled by IP: the identity is the URI SAN, never a host name.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkAgentIdentity(cert, accepted),
      timeout: options.connectTimeoutMs ?? 5000,
    },
    allowH2: false,
    connections: 4,
    // An idle connection closes after keepAliveMs (default: undici's, within the agent's hint).
    ...(options.keepAliveMs !== undefined ? { keepAliveTimeout: options.keepAliveMs, keepAliveMaxTimeout: options.keepAliveMs } : {}),
  });
}

const check = {
  put: TypeCompiler.Compile(PutRingResponse),
  get: TypeCompiler.Compile(GetRingResponse),
  stats: TypeCompiler.Compile(SessionCacheStatsResponse),
  sharing: TypeCompiler.Compile(SessionSharingStatus),
  sessions: TypeCompiler.Compile(SessionsBatchResponse),
  error: TypeCompiler.Compile(ErrorResponse),
};

/** Errors of our own verification of the agent (OpenSSL and node:tls codes). */
const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|INVALID_PURPOSE|INVALID_CA|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH)/;

export class AgentClient {
  readonly baseUrl: string;
  readonly #dispatcher: Dispatcher;
  readonly #owned: boolean;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;

  constructor(options: AgentClientOptions) {
    this.baseUrl = new URL(options.baseUrl).origin;
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
      this.#owned = false;
    } else if (options.tls) {
      this.#dispatcher = createAgentDispatcher(options.tls, { connectTimeoutMs: options.timeoutMs });
      this.#owned = true;
    } else {
      throw new Error('AgentClient needs tls or a dispatcher');
    }
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxResponseBytes = options.maxResponseBytes ?? RESPONSE_LIMIT_BYTES;
  }

  /** Installs a ring; resolves once the agent proved ATS holds it. */
  async putRing(ring: PutRingRequest, options: { timeoutMs?: number } = {}): Promise<PutRingResponse> {
    const res = await this.#call('PUT', '/v1/ring', JSON.stringify(ring), options.timeoutMs);
    return this.#expect(res, 200, check.put);
  }

  /** What ATS holds now and the ring the agent last accepted. */
  async getRing(): Promise<GetRingResponse> {
    return this.#expect(await this.#call('GET', '/v1/ring'), 200, check.get);
  }

  async flushSessionCache(): Promise<SessionCacheStatsResponse> {
    return this.#expect(await this.#call('POST', '/v1/session-cache/flush'), 200, check.stats);
  }

  async removeSession(idHex: string): Promise<void> {
    const res = await this.#call('DELETE', `/v1/session-cache/sessions/${encodeURIComponent(idHex)}`);
    if (res.status !== 204) throw this.#failure(res);
  }

  async sessionCacheStats(): Promise<SessionCacheStatsResponse> {
    return this.#expect(await this.#call('GET', '/v1/session-cache/stats'), 200, check.stats);
  }

  /** Replaces the agent's session-sharing configuration (the operator); answers the agent's sharing status. */
  async putSessionSharing(config: SessionSharingConfig): Promise<SessionSharingStatus> {
    return this.#expect(await this.#call('PUT', '/v1/session-sharing', JSON.stringify(config)), 200, check.sharing);
  }

  /**
   * Sends TLS sessions to a peer agent (agents only: the operator's identity is refused there).
   * The body carries session secrets: errors never quote it.
   */
  async postSessions(batch: SessionsBatch, options: { timeoutMs?: number } = {}): Promise<SessionsBatchResponse> {
    return this.#expect(await this.#call('POST', '/v1/sessions', JSON.stringify(batch), options.timeoutMs), 200, check.sessions);
  }

  /** Closes the connections, unless the dispatcher is shared. */
  async close(): Promise<void> {
    if (this.#owned) await this.#dispatcher.close();
  }

  async #call(method: Dispatcher.HttpMethod, path: string, body?: string, timeoutMs?: number): Promise<RawResponse> {
    const ms = timeoutMs ?? this.#timeoutMs;
    // One deadline for the whole exchange: a body trickled a byte at a time is cut off too.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), ms);
    try {
      const res = await this.#dispatcher.request({
        origin: this.baseUrl,
        path,
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body ?? null,
        signal: deadline.signal,
      });
      return { status: res.statusCode, headers: res.headers, text: await this.#readBody(res, `${method} ${this.baseUrl}${path}`) };
    } catch (err) {
      if (err instanceof AgentError) throw err;
      const e = err as NodeJS.ErrnoException;
      if (deadline.signal.aborted || e.name === 'TimeoutError' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
        throw new AgentError(0, 'timeout', `${method} ${this.baseUrl}${path}: no answer within ${ms} ms`, undefined, err);
      }
      const code = (e.code ?? '') || ((e.cause as NodeJS.ErrnoException | undefined)?.code ?? '');
      const kind = TLS_CODES.test(code) ? 'tls' : 'unreachable';
      throw new AgentError(0, kind, `${method} ${this.baseUrl}${path}: ${code || e.name}: ${e.message}`, undefined, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The body, at most maxResponseBytes of it: a larger one is cut off, never buffered. */
  async #readBody(res: Dispatcher.ResponseData, what: string): Promise<string> {
    const limit = this.#maxResponseBytes;
    const tooLarge = () => {
      res.body.destroy();
      return new AgentError(res.statusCode, 'bad_response', `${what}: response exceeds ${limit} bytes`);
    };
    if (Number(res.headers['content-length'] ?? 0) > limit) throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size).toString('utf8');
  }

  #expect<T>(res: RawResponse, status: number, schema: Checker<T>): T {
    if (res.status !== status) throw this.#failure(res);
    return this.#parse(res, schema);
  }

  #parse<T>(res: RawResponse, schema: Checker<T>): T {
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      throw new AgentError(res.status, 'bad_response', `agent ${this.baseUrl} answered ${res.status} with a body that is not JSON`);
    }
    if (!schema.Check(body)) throw new AgentError(res.status, 'bad_response', `agent ${this.baseUrl} answered ${res.status} with an unexpected body`);
    return body;
  }

  #failure(res: RawResponse): AgentError {
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      body = undefined;
    }
    const retry = Number(res.headers['retry-after']);
    const retryAfter = Number.isFinite(retry) && retry >= 0 ? retry : undefined;
    if (check.error.Check(body)) return new AgentError(res.status, body.error, body.message, retryAfter);
    return new AgentError(res.status, 'bad_response', `agent ${this.baseUrl} answered ${res.status}`, retryAfter);
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Checker<T> {
  Check(value: unknown): value is T;
}
