// Puts the agent together: the ring keeper over one AtsBridge, the mTLS API, the plain-HTTP
// health/metrics listener and the re-assert loop. Returns once both listeners are bound.
// Given TLS files, it follows them: a renewed certificate or CA bundle is used for new
// handshakes without a restart.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import { describeError } from '../observability/describe-error.ts';
import type { Logger } from '../observability/logger.ts';
import { watchTlsFiles, type ReloadingFiles } from '../tls/reloading-files.ts';
import { buildApiServer, updateApiServerTls, type AgentTls } from './api-server.ts';
import type { AtsBridge } from './ats-bridge.ts';
import { buildHealthServer } from './health-server.ts';
import { formatHostPort, type HostPort } from './host-port.ts';
import { ConfigDirWatcher } from './config-dir-watcher.ts';
import { ConfigReloadCoordinator } from './config-reload-coordinator.ts';
import { AgentMetrics } from './metrics.ts';
import { OPERATOR_IDENTITY } from './identity.ts';
import { startReassertLoop } from './reassert-loop.ts';
import { RingKeeper } from './ring-keeper.ts';
import { SessionCache } from './session-cache.ts';
import { SessionSharer } from './session-sharer.ts';

/** PEM files of the agent's TLS material, reloaded when their content changes. */
export interface AgentTlsFiles {
  cert: string;
  key: string;
  clientCa: string;
  /** How often the files are compared with what is in use (default 5 s). */
  reloadIntervalMs?: number;
}

export interface AgentOptions {
  listen: HostPort;
  healthListen: HostPort;
  /** Fixed TLS material; or `tlsFiles`. */
  tls?: AgentTls;
  tlsFiles?: AgentTlsFiles;
  bridge: AtsBridge;
  logger: Logger;
  /** URI SAN the operator's client certificate must carry (default OPERATOR_IDENTITY). */
  clientIdentity?: string;
  reassertIntervalMs?: number;
  readbackDeadlineMs?: number;
  /** ATS's mounted config directory (a ConfigMap volume): changes are reloaded into ATS. */
  configDir?: string;
  /** Debounce and re-read period of the config directory watcher (defaults in config-dir-watcher.ts). */
  configDebounceMs?: number;
  configResyncIntervalMs?: number;
  /** Session sharing's batching and delivery knobs (defaults in session-sharer.ts). */
  sessionSharing?: { batchDelayMs?: number; concurrency?: number; timeoutMs?: number };
  /** The Node process's metrics in /metrics (default true; see AgentMetrics). */
  processMetrics?: boolean;
}

export interface RunningAgent {
  /** Bound addresses (the real port when 0 was asked for). */
  api: HostPort;
  health: HostPort;
  keeper: RingKeeper;
  metrics: AgentMetrics;
  sessionSharer: SessionSharer;
  /** Stops listening and polling, zeroes the rings held, closes the bridge. */
  close(): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { bridge, logger } = options;
  const metrics = new AgentMetrics({ processMetrics: options.processMetrics });
  if (bridge.ackChannelStats) metrics.ackChannelSource = () => bridge.ackChannelStats?.();
  const readbackDeadlineMs = options.readbackDeadlineMs ?? 2000;
  const keeper = new RingKeeper({ bridge, logger, metrics, readbackDeadlineMs });
  const files = options.tlsFiles;
  const tls = options.tls ?? (files ? await readTlsFiles(files) : undefined);
  if (!tls) throw new Error('startAgent needs tls or tlsFiles');
  const configReloads = new ConfigReloadCoordinator({ bridge, keeper, metrics, logger });
  const sessionSharer = new SessionSharer({ bridge, logger, metrics, tls, ...options.sessionSharing });
  const api = buildApiServer({
    keeper,
    configReloads,
    sessionCache: new SessionCache(bridge, readbackDeadlineMs, { beforeFlush: () => sessionSharer.flushing() }),
    sessionSharer,
    metrics,
    logger,
    tls,
    clientIdentity: options.clientIdentity ?? OPERATOR_IDENTITY,
  });
  const updateTls = (next: AgentTls) => {
    updateApiServerTls(api, next); // throws on broken material: the sharer keeps the old then
    sessionSharer.updateTls(next);
  };
  const health = buildHealthServer(keeper, metrics, logger);
  let reloading: ReloadingFiles | undefined;
  try {
    await listen(api, options.listen);
    await listen(health, options.healthListen);
    if (files) {
      reloading = await watchTlsFiles({
        what: 'agent serving certificate and client CA',
        paths: [files.cert, files.key, files.clientCa],
        apply: ([cert, key, clientCa]) => updateTls({ cert: cert!, key: key!, clientCa: clientCa! }),
        logger,
        ...(files.reloadIntervalMs ? { intervalMs: files.reloadIntervalMs } : {}),
      });
    }
  } catch (err) {
    // The start failure is what the caller gets; a listener that also fails to close is logged.
    await closeServers([api, health], logger, 'debug');
    await sessionSharer.close();
    throw err;
  }
  // First look at ATS before announcing the listeners, so gauges and readiness start true to life.
  await keeper.reconcile();
  await configReloads.checkExternal(); // baseline reconfigure time: ATS's past is not a reload
  let configWatcher: ConfigDirWatcher | undefined;
  if (options.configDir !== undefined) {
    configWatcher = new ConfigDirWatcher({
      dir: options.configDir,
      logger,
      ...(options.configDebounceMs === undefined ? {} : { debounceMs: options.configDebounceMs }),
      ...(options.configResyncIntervalMs === undefined ? {} : { resyncIntervalMs: options.configResyncIntervalMs }),
    });
    configWatcher.on('problem', (p) => configReloads.recordProblem(p.path, p.message));
    const initial = await configWatcher.start();
    if (initial) configReloads.adoptInitial(initial.hash);
    configWatcher.on('change', (hash) => {
      void configReloads.applyConfig(hash);
    });
  }
  const loop = startReassertLoop(keeper, options.reassertIntervalMs ?? 300, logger, () => configReloads.checkExternal());
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
    sessionSharer,
    close() {
      closing ??= (async () => {
        await reloading?.stop();
        await configWatcher?.stop();
        await loop.stop();
        await closeServers([api, health], logger, 'warn');
        await sessionSharer.close();
        await keeper.close();
        await bridge.close();
        logger.info('agent stopped');
      })();
      return closing;
    },
  };
}

async function readTlsFiles(files: AgentTlsFiles): Promise<AgentTls> {
  const [cert, key, clientCa] = await Promise.all([readFile(files.cert), readFile(files.key), readFile(files.clientCa)]);
  return { cert, key, clientCa };
}

async function listen(server: Server, at: HostPort): Promise<void> {
  server.listen(at.port, at.host);
  await once(server, 'listening');
}

/** Closes every server, waiting for all; one that fails to close is logged, not thrown. */
async function closeServers(servers: Server[], logger: Logger, level: 'debug' | 'warn'): Promise<void> {
  const results = await Promise.allSettled(servers.map((s) => closeServer(s)));
  for (const r of results) if (r.status === 'rejected') logger[level]('closing a listener failed', { err: describeError(r.reason) });
}

async function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  server.closeAllConnections?.(); // keep-alive connections would hold close() open
  await closed;
}

function address(server: Server): HostPort {
  const a = server.address() as AddressInfo;
  return { host: a.address, port: a.port };
}
