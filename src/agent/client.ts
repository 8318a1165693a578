// The operator's client for the agent API: mutual TLS over undici, the agent's certificate
// verified against the CA for the fixed name agent.ticketkeys.dev (pods are dialled by IP),
// a timeout per request, responses checked against the protocol schemas, and one error type
// that carries the HTTP status. Error messages never contain the request body.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Agent, type Dispatcher } from 'undici';
import {
  AGENT_SERVER_NAME,
  ErrorResponse,
  GetRingResponse,
  HealthResponse,
  PutRingResponse,
  SessionCacheStatsResponse,
  type PutRingRequest,
} from './protocol.ts';

export interface AgentClientTls {
  /** CA that signed the agents' serving certificates. */
  ca: string | Buffer;
  /** The operator's client certificate and key. */
  cert: string | Buffer;
  key: string | Buffer;
  /** Name the agent certificate must carry; defaults to agent.ticketkeys.dev. */
  serverName?: string;
}

export type AgentErrorCode =
  | ErrorResponse['error']
  /**
   * No HTTP answer: connection refused or reset, or the agent refused our certificate (with
   * TLS 1.3 that surfaces as a closed socket, not as a TLS error).
   */
  | 'unreachable'
  /** We refused the agent's certificate (wrong CA or name, expired). */
  | 'tls'
  | 'timeout'
  /** The agent answered something that is not the protocol. */
  | 'bad_response';

export class AgentError extends Error {
  override name = 'AgentError';
  /** HTTP status; 0 when no HTTP answer arrived. */
  readonly status: number;
  readonly code: AgentErrorCode;
  /** From Retry-After on 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, code: AgentErrorCode, message: string, retryAfterSeconds?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.status = status;
    this.code = code;
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
  /** Per request, connect included. Default 5000 ms. */
  timeoutMs?: number;
}

export interface Readiness {
  ready: boolean;
  reason?: string;
}

/** An undici dispatcher speaking mTLS to agents; one can serve every pod. */
export function createAgentDispatcher(tls: AgentClientTls, options: { connectTimeoutMs?: number } = {}): Agent {
  return new Agent({
    connect: {
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      servername: tls.serverName ?? AGENT_SERVER_NAME,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      timeout: options.connectTimeoutMs ?? 5000,
    },
    allowH2: false,
    connections: 4,
  });
}

const check = {
  put: TypeCompiler.Compile(PutRingResponse),
  get: TypeCompiler.Compile(GetRingResponse),
  stats: TypeCompiler.Compile(SessionCacheStatsResponse),
  health: TypeCompiler.Compile(HealthResponse),
  error: TypeCompiler.Compile(ErrorResponse),
};

/** Errors of our own verification of the agent (OpenSSL and node:tls codes). */
const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/;

export class AgentClient {
  readonly baseUrl: string;
  readonly #dispatcher: Dispatcher;
  readonly #owned: boolean;
  readonly #timeoutMs: number;

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

  /** The agent's readiness (ATS holds the last accepted ring); not-ready is an answer, not an error. */
  async readyz(): Promise<Readiness> {
    const res = await this.#call('GET', '/readyz');
    if (res.status !== 200 && res.status !== 503) throw this.#failure(res);
    const body = this.#parse(res, check.health);
    return body.status === 'ok' ? { ready: true } : { ready: false, reason: body.reason ?? '' };
  }

  /** Closes the connections, unless the dispatcher is shared. */
  async close(): Promise<void> {
    if (this.#owned) await this.#dispatcher.close();
  }

  async #call(method: Dispatcher.HttpMethod, path: string, body?: string, timeoutMs?: number): Promise<RawResponse> {
    const ms = timeoutMs ?? this.#timeoutMs;
    try {
      const res = await this.#dispatcher.request({
        origin: this.baseUrl,
        path,
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body ?? null,
        signal: AbortSignal.timeout(ms),
      });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
        throw new AgentError(0, 'timeout', `${method} ${this.baseUrl}${path}: no answer within ${ms} ms`, undefined, err);
      }
      const code = (e.code ?? '') || ((e.cause as NodeJS.ErrnoException | undefined)?.code ?? '');
      const kind = TLS_CODES.test(code) ? 'tls' : 'unreachable';
      throw new AgentError(0, kind, `${method} ${this.baseUrl}${path}: ${code || e.name}: ${e.message}`, undefined, err);
    }
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
