// What both agent listeners share, on plain node:http(s) (fastify cost ~8 MB of RSS in a
// sidecar whose budget is 80 MB): a tiny router, one JSON error shape whose messages the agent
// writes itself (a JSON.parse message quotes the body, and the body carries keys), a bounded
// JSON body reader, and the readiness routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { ApiError } from './api-error.ts';
import type { AgentMetrics } from './metrics.ts';
import type { ErrorResponse, HealthResponse } from './protocol.ts';
import type { RingKeeper } from './ring-keeper.ts';

export interface Reply {
  status: number;
  body?: unknown;
}

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Exact path, or a pattern whose groups become `params`. */
  path: string | RegExp;
  /** The reply, or undefined when the route answered on `response` itself (a stream). */
  handle(request: IncomingMessage, params: string[], response: ServerResponse): Promise<Reply | undefined>;
}

export interface HandlerOptions {
  routes: Route[];
  logger: Logger;
  /** Counts refusals by reason (API listener only). */
  metrics?: AgentMetrics;
  /** Runs before routing; throws ApiError to refuse the request. */
  guard?: (request: IncomingMessage) => void;
}

export function sendJson(response: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    response.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  response
    .writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

function sendError(response: ServerResponse, err: ApiError, bodyUnread: boolean): void {
  const headers: Record<string, string> = err.retryAfter === undefined ? {} : { 'retry-after': String(err.retryAfter) };
  // The rest of the body (after 413, or of a stream refused midway) is never read: the
  // connection cannot carry another request.
  if (err.status === 413 || bodyUnread) headers.connection = 'close';
  const body: ErrorResponse = { error: err.code, message: err.message };
  sendJson(response, err.status, body, headers);
}

/** The request handler of one listener: guard, route, answer; every failure as ErrorResponse. */
export function createHandler(options: HandlerOptions): (request: IncomingMessage, response: ServerResponse) => void {
  const { routes, logger, metrics, guard } = options;
  return (request, response) => {
    void (async () => {
      try {
        guard?.(request);
        const path = (request.url ?? '/').split('?')[0]!;
        let params: string[] | undefined;
        const route = routes.find((r) => {
          if (typeof r.path === 'string') return r.path === path && r.method === request.method;
          const m = r.path.exec(path);
          if (!m || r.method !== request.method) return false;
          params = m.slice(1);
          return true;
        });
        if (!route) throw new ApiError(404, 'not_found', 'no such route');
        const reply = await route.handle(request, params ?? [], response);
        if (reply) sendJson(response, reply.status, reply.body);
      } catch (err) {
        const apiErr = err instanceof ApiError ? err : new ApiError(500, 'internal', 'internal error');
        if (apiErr.status < 500) metrics?.rejections.inc({ reason: apiErr.code });
        // Only the error's name: messages of library errors may quote the request.
        if (apiErr.code === 'internal') logger.error('request failed', { method: request.method, error: err instanceof Error ? err.name : typeof err });
        if (response.headersSent) response.destroy();
        else sendError(response, apiErr, !request.complete);
      }
    })();
  };
}

/** The request's media type, lower case, without parameters ("" when none). */
export function mediaType(request: IncomingMessage): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Reads a JSON body of at most `limit` bytes. 415 for another media type, 413 when larger
 * (by content-length, before reading, or while reading), 400 for empty or invalid JSON.
 */
export async function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  if (mediaType(request) !== 'application/json') throw new ApiError(415, 'unsupported_media_type', 'body must be application/json');
  const tooLarge = () => new ApiError(413, 'payload_too_large', 'body exceeds the size limit');
  if (Number(request.headers['content-length'] ?? 0) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      for (const c of chunks) c.fill(0);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  try {
    if (raw.length === 0) throw new ApiError(400, 'bad_request', 'body is empty');
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ApiError(400, 'bad_request', 'body is not valid JSON');
    }
  } finally {
    raw.fill(0); // the body carries key material
  }
}

export function readinessRoutes(keeper: RingKeeper): Route[] {
  return [
    { method: 'GET', path: '/healthz', handle: async () => ({ status: 200, body: { status: 'ok' } satisfies HealthResponse }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: async () => {
        const s = keeper.status();
        const body: HealthResponse = s.ready ? { status: 'ok' } : { status: 'not-ready', reason: s.reason };
        return { status: s.ready ? 200 : 503, body };
      },
    },
  ];
}
