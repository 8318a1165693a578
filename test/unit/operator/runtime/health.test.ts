import { afterEach, describe, expect, it } from '@jest/globals';
import { Registry, Counter } from 'prom-client';
import { HealthServer, informersSynced, loopAlive, parseListenAddress, reconcilesNotStuck, type HealthCheck } from '../../../../src/operator/runtime/health.ts';

const servers: HealthServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(options: { liveness?: HealthCheck[]; readiness?: HealthCheck[] } = {}) {
  const registry = new Registry();
  new Counter({ name: 'tko_test_total', help: 'test', registers: [registry] }).inc(3);
  const server = new HealthServer({ addr: '127.0.0.1:0', registry, ...options });
  servers.push(server);
  const { port } = await server.listen();
  return (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
}

describe('parseListenAddress', () => {
  it('accepts host:port, :port and [v6]:port', () => {
    expect(parseListenAddress(':8080')).toEqual({ host: undefined, port: 8080 });
    expect(parseListenAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
  });

  it('rejects addresses without a valid port', () => {
    for (const bad of ['8080', 'host', ':', ':70000', 'a:b']) expect(() => parseListenAddress(bad)).toThrow(/invalid/);
  });
});

describe('HealthServer', () => {
  it('serves the registry on /metrics in Prometheus text format', async () => {
    const get = await serve();
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('tko_test_total 3');
  });

  it('answers /readyz 500 naming the informers not yet synced, then 200', async () => {
    const informers = [
      { name: 'pods', synced: false, hasSynced() { return this.synced; } },
      { name: 'secrets', synced: true, hasSynced() { return this.synced; } },
    ];
    const get = await serve({ readiness: [informersSynced(informers)] });
    const notReady = await get('/readyz');
    expect(notReady.status).toBe(500);
    expect(await notReady.text()).toContain('[-]informers failed: not synced: pods');
    informers[0]!.synced = true;
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ok\n');
  });

  it('answers /healthz from the liveness checks and lists them all with ?verbose', async () => {
    let elector: true | string = true;
    const get = await serve({ liveness: [loopAlive('leader-election', { liveness: () => elector }), { name: 'ping', check: () => true }] });
    expect((await get('/healthz')).status).toBe(200);
    const verbose = await (await get('/healthz?verbose')).text();
    expect(verbose).toContain('[+]leader-election ok');
    expect(verbose).toContain('[+]ping ok');
    elector = 'leader election loop silent for 60s';
    const failing = await get('/healthz');
    expect(failing.status).toBe(500);
    expect(await failing.text()).toContain('[-]leader-election failed: leader election loop silent for 60s');
  });

  it('fails liveness when a reconcile has been running too long', async () => {
    let longest = 0;
    const get = await serve({ liveness: [reconcilesNotStuck({ name: 'ticketkeyset', longestRunningReconcileMs: () => longest }, 600_000)] });
    expect((await get('/healthz')).status).toBe(200);
    longest = 700_000;
    const res = await get('/healthz');
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('[-]controller-ticketkeyset failed: a reconcile has been running for 700s');
  });

  it('treats a throwing check as failed', async () => {
    const get = await serve({ liveness: [{ name: 'broken', check: () => { throw new Error('kaput'); } }] });
    const res = await get('/healthz');
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('[-]broken failed: kaput');
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const get = await serve();
    expect((await get('/nope')).status).toBe(404);
    const port = new URL((await get('/metrics')).url).port;
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
