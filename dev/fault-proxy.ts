// A loopback TCP proxy whose behaviour a test changes at run time, to put a network fault
// between the operator and one agent. TLS stays end to end (the proxy only moves bytes), so the
// agent's certificate checks are the same as without it.
//
//   const proxy = await FaultProxy.start({ listen: { host: '127.0.70.1', port: 19443 }, target: { host: '127.0.70.101', port: 19443 } });
//   await proxy.setMode('refuse')              listener closed: connects are refused
//   await proxy.setMode('blackhole')           connects accepted, nothing forwarded or answered
//   await proxy.setMode('delay', { delayMs: 2000 })  forwarded, each chunk ~2 s late (both ways)
//   await proxy.setMode('pass')                healed
//   await proxy.close()
//
// Every mode change drops the connections open at that moment (as a real partition breaks
// them), so a client's kept-alive connection meets the new behaviour on its next request.
import { connect, createServer, type Server, type Socket } from 'node:net';

export type FaultMode = 'pass' | 'refuse' | 'blackhole' | 'delay';

export interface Endpoint {
  host: string;
  port: number;
}

export interface FaultProxyOptions {
  listen: Endpoint;
  target: Endpoint;
  mode?: FaultMode;
  /** Added to each chunk in 'delay' mode. Default 2000 ms. */
  delayMs?: number;
}

export class FaultProxy {
  readonly listen: Endpoint;
  readonly target: Endpoint;
  #mode: FaultMode;
  #delayMs: number;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #accepted = 0;

  private constructor(options: FaultProxyOptions) {
    this.listen = options.listen;
    this.target = options.target;
    this.#mode = options.mode ?? 'pass';
    this.#delayMs = options.delayMs ?? 2000;
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    if (proxy.#mode !== 'refuse') await proxy.#open();
    return proxy;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  /** Connections accepted so far (a black hole counts what it swallowed). */
  get accepted(): number {
    return this.#accepted;
  }

  async setMode(mode: FaultMode, options: { delayMs?: number } = {}): Promise<void> {
    if (options.delayMs !== undefined) this.#delayMs = options.delayMs;
    this.#mode = mode;
    this.#dropConnections();
    if (mode === 'refuse') await this.#closeListener();
    else if (!this.#server) await this.#open();
  }

  async close(): Promise<void> {
    this.#dropConnections();
    await this.#closeListener();
  }

  #open(): Promise<void> {
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listen.port, this.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  #closeListener(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  #dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  #accept(client: Socket): void {
    this.#accepted++;
    this.#track(client);
    if (this.#mode === 'blackhole') {
      // Accepted, never read, never answered: the caller waits for its own timeout.
      client.pause();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    this.#track(upstream);
    const delayMs = this.#mode === 'delay' ? this.#delayMs : 0;
    relay(client, upstream, delayMs);
    relay(upstream, client, delayMs);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }
}

/** Copies from → to, each chunk (and the end) delayed by delayMs; order is kept. */
function relay(from: Socket, to: Socket, delayMs: number): void {
  // Same-duration timers fire in the order they were set: chunks keep their order.
  const later = (f: () => void) => {
    if (delayMs > 0) setTimeout(f, delayMs).unref();
    else f();
  };
  from.on('data', (chunk: Buffer) =>
    later(() => {
      if (!to.destroyed) to.write(chunk);
    }),
  );
  from.once('end', () =>
    later(() => {
      if (!to.destroyed) to.end();
    }),
  );
}
