// Plain-HTTP probes and metrics: kubelet and Prometheus cannot present the operator's client
// certificate. Nothing here changes state or reveals more than fingerprint-free counters.
import { createServer, type Server } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { createHandler, readinessRoutes, sendJson } from './http-common.ts';
import type { AgentMetrics } from './metrics.ts';
import type { RingKeeper } from './ring-keeper.ts';

export function buildHealthServer(keeper: RingKeeper, metrics: AgentMetrics, logger: Logger): Server {
  const json = createHandler({ routes: readinessRoutes(keeper), logger });
  return createServer({ requestTimeout: 10_000 }, (request, response) => {
    // The one route that is not JSON.
    if (request.method === 'GET' && request.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => sendJson(response, 500, { error: 'internal', message: 'metrics unavailable' }),
      );
      return;
    }
    json(request, response);
  });
}
