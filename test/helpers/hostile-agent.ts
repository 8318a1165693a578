// A hostile "agent": what a process with a foothold in one pod could put on the pod's agent
// port, with that pod's own serving certificate (so the operator's identity checks pass: the
// hostility is in what it says, not in who it is).
//   'lie'         answers GET/PUT /v1/ring claiming the generation it was sent, with a ring
//                 fingerprint that is not the ring's (it holds nothing);
//   'huge'        answers every request with a 100 MB body;
//   'slowloris'   answers one byte per second, never finishing.
//
//   const hostile = await HostileAgent.start({ host: pod.ip, port, mode: 'lie', tls: await podServingCert(fleet, 'ats-3') });
//   hostile.requests     requests seen;  await hostile.close()
//
// A PUT body holds key bytes: it is parsed for its generation and zeroed, never logged.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Fleet } from '../../dev/fleet.ts';

export type HostileMode = 'lie' | 'huge' | 'slowloris';

export const HUGE_BODY_BYTES = 100 * 1024 * 1024;

export interface HostileAgentOptions {
  host: string;
  port: number;
  mode: HostileMode;
  tls: { cert: string; key: string };
}

/** The pod's own agent serving certificate (URI SAN naming the pod), as the fleet issued it. */
export function podServingCert(fleet: Fleet, pod: string): Promise<{ cert: string; key: string }> {
  return fleet.agentCertFor(pod);
}

const fp = () => randomBytes(8).toString('hex');

export class HostileAgent {
  readonly mode: HostileMode;
  #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #requests = 0;
  #lastGeneration = 1;
  readonly #startTime = new Date().toISOString();

  private constructor(server: Server, mode: HostileMode) {
    this.#server = server;
    this.mode = mode;
  }

  static async start(o: HostileAgentOptions): Promise<HostileAgent> {
    const server = createServer({ cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.2' });
    const agent = new HostileAgent(server, o.mode);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => agent.#handle(req, res));
    server.on('connection', (s: Socket) => {
      agent.#sockets.add(s);
      s.once('close', () => agent.#sockets.delete(s));
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve());
    });
    return agent;
  }

  get requests(): number {
    return this.#requests;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.#requests++;
    res.on('error', () => {});
    if (this.mode === 'huge') return this.#huge(res);
    if (this.mode === 'slowloris') return this.#slowloris(res);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 64 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      for (const c of chunks) c.fill(0);
      if (req.method === 'PUT' && req.url === '/v1/ring') {
        try {
          const g = (JSON.parse(body.toString('utf8')) as { generation?: unknown }).generation;
          if (typeof g === 'number') this.#lastGeneration = g;
        } catch {
          // not a ring: lie anyway
        }
        body.fill(0);
        return json(res, { generation: this.#lastGeneration, ringFingerprint: fp(), activeFingerprint: fp(), installedAt: new Date().toISOString(), atsStartTime: this.#startTime });
      }
      body.fill(0);
      if (req.url === '/v1/ring') {
        const ring = { generation: this.#lastGeneration, ringFingerprint: fp(), activeFingerprint: fp(), keyFingerprints: [fp(), fp()], installedAt: new Date().toISOString() };
        return json(res, { ats: { generation: this.#lastGeneration, keyCount: 2, ringFingerprint: ring.ringFingerprint, rejected: 0, startTime: this.#startTime }, accepted: ring, inSync: true });
      }
      if (req.url === '/v1/session-cache/flush' || req.url === '/v1/session-cache/stats') return json(res, { tracked: 0, removed: 0, flushes: 0 });
      if (req.url === '/readyz' || req.url === '/healthz') return json(res, { status: 'ok' });
      return json(res, { error: 'not_found', message: 'no such path' }, 404);
    });
  }

  /** 100 MB of blanks (never a complete JSON document), as fast as the reader takes them. */
  #huge(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(HUGE_BODY_BYTES) });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < HUGE_BODY_BYTES) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  }

  /** The status line one byte per second, forever (headers never complete). */
  #slowloris(res: ServerResponse): void {
    const socket = res.socket;
    if (!socket) return;
    const text = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-pad: ', 'latin1');
    let i = 0;
    const t = setInterval(() => {
      if (socket.destroyed) {
        clearInterval(t);
        this.#timers.delete(t);
        return;
      }
      socket.write(i < text.length ? text.subarray(i, i + 1) : Buffer.from('a'));
      i++;
    }, 1000);
    this.#timers.add(t);
  }
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}
