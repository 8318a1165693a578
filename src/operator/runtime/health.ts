// The operator's HTTP endpoint on --metrics-addr: /metrics (Prometheus text from the operator's
// Registry), /healthz (liveness: the loops are alive) and /readyz (readiness: informers synced).
// Like controller-runtime's, a check failure answers 500 listing the failed checks; `?verbose`
// lists every check.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../../observability/logger.ts';

/** A named check: true when healthy, otherwise the reason it is not. */
export interface HealthCheck {
  name: string;
  check: () => true | string;
}

export interface HealthServerOptions {
  /** `host:port`, `:port` (all interfaces) or `[v6]:port`; port 0 picks a free port. */
  addr: string;
  registry: Registry;
  liveness?: HealthCheck[];
  readiness?: HealthCheck[];
  logger?: Logger;
}

/** Parses a listen address such as `:8080`, `127.0.0.1:0`, `[::1]:9090`, `0.0.0.0:8080`. */
export function parseListenAddress(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(addr)} (want host:port or :port)`);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port in ${JSON.stringify(addr)}`);
  const host = m[1] ?? m[2];
  return { host: host ? host : undefined, port };
}

/** Readiness check: every informer has synced its cache. */
export function informersSynced(informers: ReadonlyArray<{ name: string; hasSynced(): boolean }>): HealthCheck {
  return {
    name: 'informers',
    check: () => {
      const pending = informers.filter((i) => !i.hasSynced()).map((i) => i.name);
      return pending.length === 0 ? true : `not synced: ${pending.join(', ')}`;
    },
  };
}

/** Liveness check from anything exposing liveness() (informers, the leader elector). */
export function loopAlive(name: string, loop: { liveness(): true | string }): HealthCheck {
  return { name, check: () => loop.liveness() };
}

/** Liveness check: no reconcile has been running longer than maxMs (a wedged worker). */
export function reconcilesNotStuck(controller: { name: string; longestRunningReconcileMs(): number }, maxMs: number): HealthCheck {
  return {
    name: `controller-${controller.name}`,
    check: () => {
      const longest = controller.longestRunningReconcileMs();
      return longest <= maxMs ? true : `a reconcile has been running for ${Math.round(longest / 1000)}s`;
    },
  };
}

export class HealthServer {
  private readonly server: Server;
  private readonly options: HealthServerOptions;

  constructor(options: HealthServerOptions) {
    this.options = options;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        options.logger?.error('health endpoint failed', { err });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      });
    });
    // Scrapes and probes are short; do not let idle keep-alive sockets delay shutdown.
    this.server.keepAliveTimeout = 5_000;
  }

  /** Starts listening; resolves with the bound address (useful with port 0). */
  listen(): Promise<{ host: string; port: number }> {
    const { host, port } = parseListenAddress(this.options.addr);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as AddressInfo;
        this.options.logger?.info('serving metrics and health', { address: a.address, port: a.port });
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (url.pathname) {
      case '/metrics': {
        const body = await this.options.registry.metrics();
        res.writeHead(200, { 'content-type': this.options.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      case '/healthz':
      case '/livez':
        return respondChecks(res, this.options.liveness ?? [], url.searchParams.has('verbose'));
      case '/readyz':
        return respondChecks(res, this.options.readiness ?? [], url.searchParams.has('verbose'));
      default:
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  }
}

function respondChecks(res: ServerResponse, checks: HealthCheck[], verbose: boolean): void {
  const results = checks.map((c) => {
    let outcome: true | string;
    try {
      outcome = c.check();
    } catch (err) {
      outcome = err instanceof Error ? err.message : String(err);
    }
    return { name: c.name, outcome };
  });
  const failed = results.filter((r) => r.outcome !== true);
  const lines = results
    .filter((r) => verbose || r.outcome !== true)
    .map((r) => (r.outcome === true ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.outcome}`));
  const status = failed.length === 0 ? 200 : 500;
  const body = failed.length === 0 && !verbose ? 'ok\n' : `${lines.join('\n')}\n${failed.length === 0 ? 'ok' : 'check failed'}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(body);
}
