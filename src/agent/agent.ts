// Puts the agent together: the ring keeper over one AtsBridge, the mTLS API, the plain-HTTP
// health/metrics listener and the re-assert loop. Returns once both listeners are bound.
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import type { Logger } from '../observability/logger.ts';
import { buildApiServer, type AgentTls } from './api-server.ts';
import type { AtsBridge } from './ats-bridge.ts';
import { buildHealthServer } from './health-server.ts';
import { formatHostPort, type HostPort } from './host-port.ts';
import { AgentMetrics } from './metrics.ts';
import { OPERATOR_IDENTITY } from './protocol.ts';
import { startReassertLoop } from './reassert-loop.ts';
import { RingKeeper } from './ring-keeper.ts';
import { SessionCache } from './session-cache.ts';

export interface AgentOptions {
  listen: HostPort;
  healthListen: HostPort;
  tls: AgentTls;
  bridge: AtsBridge;
  logger: Logger;
  /** CN the operator's client certificate must carry. */
  clientIdentity?: string;
  reassertIntervalMs?: number;
  readbackDeadlineMs?: number;
}

export interface RunningAgent {
  /** Bound addresses (the real port when 0 was asked for). */
  api: HostPort;
  health: HostPort;
  keeper: RingKeeper;
  metrics: AgentMetrics;
  /** Stops listening and polling, zeroes the rings held, closes the bridge. */
  close(): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { bridge, logger } = options;
  const metrics = new AgentMetrics();
  const readbackDeadlineMs = options.readbackDeadlineMs ?? 2000;
  const keeper = new RingKeeper({ bridge, logger, metrics, readbackDeadlineMs });
  const api = buildApiServer({
    keeper,
    sessionCache: new SessionCache(bridge, readbackDeadlineMs),
    metrics,
    logger,
    tls: options.tls,
    clientIdentity: options.clientIdentity ?? OPERATOR_IDENTITY,
  });
  const health = buildHealthServer(keeper, metrics, logger);
  try {
    await listen(api, options.listen);
    await listen(health, options.healthListen);
  } catch (err) {
    await Promise.allSettled([closeServer(api), closeServer(health)]);
    throw err;
  }
  // First look at ATS before announcing the listeners, so gauges and readiness start true to life.
  await keeper.reconcile();
  const loop = startReassertLoop(keeper, options.reassertIntervalMs ?? 300, logger);
  const bound = { api: address(api), health: address(health) };
  logger.info('agent listening', {
    api: formatHostPort(bound.api),
    health: formatHostPort(bound.health),
    atsUp: keeper.status().atsUp,
  });

  let closing: Promise<void> | undefined;
  return {
    ...bound,
    keeper,
    metrics,
    close() {
      closing ??= (async () => {
        await loop.stop();
        await Promise.allSettled([closeServer(api), closeServer(health)]);
        await keeper.close();
        await bridge.close();
        logger.info('agent stopped');
      })();
      return closing;
    },
  };
}

async function listen(server: Server, at: HostPort): Promise<void> {
  server.listen(at.port, at.host);
  await once(server, 'listening');
}

async function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections?.(); // keep-alive connections would hold close() open
  await closed;
}

function address(server: Server): HostPort {
  const a = server.address() as AddressInfo;
  return { host: a.address, port: a.port };
}
