// The mTLS listener the operator talks to. TLS refuses callers without a certificate from the
// operator CA bundle; the guard refuses certificates that do not carry the operator's URI SAN.
// New certificates and CAs take effect without a restart (updateApiServerTls).
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../observability/logger.ts';
import { checkTlsMaterial } from '../tls/material.ts';
import { checkClientIdentity } from './client-identity.ts';
import { createHandler, readinessRoutes, readJsonBody, type Route } from './http-common.ts';
import type { AgentMetrics } from './metrics.ts';
import { BODY_LIMIT_BYTES } from './protocol.ts';
import { decodeRing } from './ring.ts';
import type { RingKeeper } from './ring-keeper.ts';
import type { SessionCache } from './session-cache.ts';

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
  metrics: AgentMetrics;
  logger: Logger;
  tls: AgentTls;
  clientIdentity: string;
}

export function buildApiServer(options: ApiServerOptions): Server {
  const { keeper, sessionCache, metrics, logger, tls, clientIdentity, configReloads } = options;
  checkTlsMaterial({ cert: tls.cert, key: tls.key, ca: tls.clientCa });
  const routes: Route[] = [
    {
      method: 'PUT',
      path: '/v1/ring',
      handle: async (request) => ({ status: 200, body: await keeper.put(decodeRing(await readJsonBody(request, BODY_LIMIT_BYTES))) }),
    },
    { method: 'GET', path: '/v1/ring', handle: async () => ({ status: 200, body: { ...(await keeper.getRing()), ...configReloads?.report() } }) },
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
    { method: 'GET', path: '/v1/session-cache/stats', handle: async () => ({ status: 200, body: await sessionCache.stats() }) },
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
        const refusal = checkClientIdentity(request.socket as TLSSocket, clientIdentity);
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
