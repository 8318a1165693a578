// A stand-in for traffic_manager's mgmtapi.sock in unit tests: parses requests with the same
// marshalling (requests: int32 length + fields; responses: one DATA field) and answers from
// a record table. Real traffic_manager is covered by test/e2e/plugin-mgmt-socket.test.ts.
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { marshall, OpType, parse, type Field } from '../../../../src/agent/ats9/mgmt-marshall.ts';

export interface Received {
  op: number;
  tag?: string;
  data?: Buffer;
  name?: string;
}

export class FakeManager {
  readonly socketPath: string;
  readonly received: Received[] = [];
  records = new Map<string, bigint>();
  proxyOn = true;
  /** When set, requests are read but never answered. */
  silent = false;
  /** When set, the connection is closed on the next request. */
  hangUpNext = false;
  private readonly server: Server;
  private readonly dir: string;
  private readonly sockets = new Set<Socket>();

  private constructor(dir: string) {
    this.dir = dir;
    this.socketPath = join(dir, 'mgmtapi.sock');
    this.server = createServer((s) => this.serve(s));
  }

  static async start(): Promise<FakeManager> {
    const fake = new FakeManager(await mkdtemp(join(tmpdir(), 'tko-fake-mgmt-')));
    await new Promise<void>((resolve) => fake.server.listen(fake.socketPath, resolve));
    return fake;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  get connections(): number {
    return this.sockets.size;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const body = buf.subarray(4, 4 + buf.readUInt32LE(0));
        buf = buf.subarray(4 + body.length);
        if (this.hangUpNext) {
          this.hangUpNext = false;
          socket.destroy();
          return;
        }
        const reply = this.handle(Buffer.from(body));
        if (reply && !this.silent) {
          const payload = marshall(reply);
          const head = Buffer.alloc(4);
          head.writeUInt32LE(payload.length);
          socket.write(Buffer.concat([head, payload]));
        }
      }
    });
  }

  private handle(body: Buffer): Field[] | undefined {
    const op = body.readInt32LE(0);
    switch (op) {
      case OpType.LIFECYCLE_MESSAGE: {
        const [, tag, data] = parse(body, ['int', 'string', 'data'] as const);
        this.received.push({ op, tag, data: Buffer.from(data) });
        return [{ type: 'int', value: 0 }];
      }
      case OpType.RECORD_GET: {
        const [, name] = parse(body, ['int', 'string'] as const);
        this.received.push({ op, name });
        const v = this.records.get(name);
        const value = Buffer.alloc(8);
        if (v !== undefined) value.writeBigInt64LE(v);
        return v === undefined
          ? [
              { type: 'int', value: 11 }, // TS_ERR_PARAMS, as traffic_manager answers an unknown name
              { type: 'int', value: 0 },
              { type: 'int', value: 0 },
              { type: 'string', value: '' },
              { type: 'data', value: new Uint8Array(0) },
            ]
          : [
              { type: 'int', value: 0 },
              { type: 'int', value: 1 },
              { type: 'int', value: 0 }, // TS_REC_INT
              { type: 'string', value: name },
              { type: 'data', value },
            ];
      }
      case OpType.PROXY_STATE_GET:
        this.received.push({ op });
        return [
          { type: 'int', value: 0 },
          { type: 'int', value: this.proxyOn ? 0 : 1 },
        ];
      case OpType.RECONFIGURE:
        this.received.push({ op });
        return [{ type: 'int', value: 0 }];
      default:
        this.received.push({ op });
        return [{ type: 'int', value: 11 }];
    }
  }
}
