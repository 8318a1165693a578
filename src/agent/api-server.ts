// The mTLS listener the operator talks to. TLS refuses callers without a certificate from the
// operator CA bundle; the guard refuses certificates that do not carry the operator's URI SAN,
// except on POST /v1/sessions and /v1/sessions/stream, which only the peers of the current
// session-sharing configuration may call (never the operator). New certificates and CAs take effect without a
// restart (updateApiServerTls).
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../observability/logger.ts';
import { checkTlsMaterial } from '../tls/material.ts';
import { checkClientIdentity, checkPeerCertificate } from './client-identity.ts';
import { createHandler, mediaType, readinessRoutes, readJsonBody, type Route } from './http-common.ts';
import type { AgentMetrics } from './metrics.ts';
import { SESSIONS_STREAM_CONTENT_TYPE, SESSIONS_STREAM_PATH } from '../contract/agent-wire.ts';
import { ApiError } from './api-error.ts';
import { BODY_LIMIT_BYTES, SESSION_SHARING_BODY_LIMIT_BYTES, SESSIONS_BODY_LIMIT_BYTES } from './protocol.ts';
import { decodeRing } from './ring.ts';
import type { RingKeeper } from './ring-keeper.ts';
import type { SessionCache } from './session-cache.ts';
import type { SessionSharer } from './session-sharer.ts';

export interface AgentTls {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA bundle (one or more CA certificates) that signs the operator's client certificate. */
  clientCa: string | Buffer;
}

/**
 * New handshakes use the new material; connections already open keep theirs. Throws, leaving
 * the server as it was, when the material is broken (a key that does not match the certificate).
 */
export function updateApiServerTls(server: Server, tls: AgentTls): void {
  checkTlsMaterial({ cert: tls.cert, key: tls.key, ca: tls.clientCa });
  server.setSecureContext({ cert: tls.cert, key: tls.key, ca: tls.clientCa });
}

export interface ApiServerOptions {
  keeper: RingKeeper;
  /** With --config-dir: adds configHash and lastReload to GET /v1/ring. */
  configReloads?: { report(): object };
  sessionCache: SessionCache;
  /** Session sharing: PUT /v1/session-sharing (operator), POST /v1/sessions (peers). */
  sessionSharer?: SessionSharer;
  metrics: AgentMetrics;
  logger: Logger;
  tls: AgentTls;
  clientIdentity: string;
}

export function buildApiServer(options: ApiServerOptions): Server {
  const { keeper, sessionCache, sessionSharer, metrics, logger, tls, clientIdentity, configReloads } = options;
  const sharing = () => (sessionSharer ? { sessionSharing: sessionSharer.status() } : {});
  checkTlsMaterial({ cert: tls.cert, key: tls.key, ca: tls.clientCa });
  const routes: Route[] = [
    {
      method: 'PUT',
      path: '/v1/ring',
      handle: async (request) => ({ status: 200, body: await keeper.put(decodeRing(await readJsonBody(request, BODY_LIMIT_BYTES))) }),
    },
    { method: 'GET', path: '/v1/ring', handle: async () => ({ status: 200, body: { ...(await keeper.getRing()), ...configReloads?.report(), ...sharing() } }) },
    {
      method: 'POST',
      path: '/v1/session-cache/flush',
      handle: async () => {
        const stats = await sessionCache.flush();
        logger.info('session cache flushed', { ...stats });
        return { status: 200, body: stats };
      },
    },
    {
      method: 'DELETE',
      path: /^\/v1\/session-cache\/sessions\/([^/]+)$/,
      handle: async (_request, [id]) => {
        await sessionCache.remove(id!);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v1/session-cache/stats',
      handle: async () => ({ status: 200, body: { ...(await sessionCache.stats()), ...(sessionSharer ? { sharing: sessionSharer.status() } : {}) } }),
    },
    ...(sessionSharer ? sharingRoutes(sessionSharer) : []),
    ...readinessRoutes(keeper),
  ];
  const server = createServer(
    {
      cert: tls.cert,
      key: tls.key,
      ca: tls.clientCa,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      // Each PUT waits for ATS; a slow client must not hold a socket forever.
      requestTimeout: 30_000,
    },
    createHandler({
      routes,
      logger,
      metrics,
      guard: (request) => {
        const socket = request.socket as TLSSocket;
        if (sessionSharer && isSessionsRoute(request)) {
          // Peers only: the URI SANs must name a peer of the current configuration, and never the operator.
          const uris = checkPeerCertificate(socket);
          // The operator's identity is never a peer: authorizePeer refuses (and counts) it.
          sessionSharer.authorizePeer(uris.includes(clientIdentity) ? [] : uris);
          return;
        }
        const refusal = checkClientIdentity(socket, clientIdentity);
        if (refusal) throw refusal;
      },
    }),
  );
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    // Refused client certificates, scanners, clients that gave up: all fail here.
    metrics.rejections.inc({ reason: 'tls_handshake' });
    logger.info('TLS handshake failed', { code: err.code ?? err.name });
  });
  return server;
}

const SESSIONS_PATH = '/v1/sessions';

/** The peers' routes: POST /v1/sessions and POST /v1/sessions/stream. */
function isSessionsRoute(request: IncomingMessage): boolean {
  const path = (request.url ?? '/').split('?')[0];
  return path === SESSIONS_PATH || path === SESSIONS_STREAM_PATH;
}

function sharingRoutes(sharer: SessionSharer): Route[] {
  return [
    {
      method: 'PUT',
      path: '/v1/session-sharing',
      handle: async (request) => ({ status: 200, body: await sharer.configure(await readJsonBody(request, SESSION_SHARING_BODY_LIMIT_BYTES)) }),
    },
    {
      // The guard let only a peer through; the only route with a body above BODY_LIMIT_BYTES.
      method: 'POST',
      path: SESSIONS_PATH,
      handle: async (request) => ({ status: 200, body: await sharer.receive(await readJsonBody(request, SESSIONS_BODY_LIMIT_BYTES)) }),
    },
    {
      // The guard let only a peer through; frames are bounded one by one, the stream by the
      // server's request timeout (the sender ends each stream well before it).
      method: 'POST',
      path: SESSIONS_STREAM_PATH,
      handle: async (request, _params, response) => {
        if (mediaType(request) !== SESSIONS_STREAM_CONTENT_TYPE) throw new ApiError(415, 'unsupported_media_type', `body must be ${SESSIONS_STREAM_CONTENT_TYPE}`);
        const callerUris = checkPeerCertificate(request.socket as TLSSocket);
        // Taken: the sender writes frames once it has this. A refusal later (a frame that is not
        // one, the peer dropped, sharing off) can only cut the connection.
        response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        response.flushHeaders();
        const totals = await sharer.receiveStream(request, callerUris);
        response.end(JSON.stringify(totals));
        return undefined;
      },
    },
  ];
}
