// A client for traffic_manager's management socket (ATS 9, <runtimedir>/mgmtapi.sock).
// Keeps one connection, sends one request at a time (traffic_manager answers in order),
// reconnects lazily after any failure. Payloads travel on a unix socket only: no argv, no
// child process per push.
//
//   new MgmtClient({ socketPath, timeoutMs? })
//   lifecycleMessage(tag, data)   LIFECYCLE_MESSAGE: hand a binary payload to plugins
//   recordGet(name)               RECORD_GET: a record or stat ({ type, value })
//   proxyRunning()                PROXY_STATE_GET: is traffic_server up?
//   reconfigure()                 RECONFIGURE: what `traffic_ctl config reload` does
//
// "Socket missing", "connection refused/reset", and timeouts throw AtsUnavailableError;
// an error code from traffic_manager throws MgmtRequestError.
import { connect, type Socket } from 'node:net';
import { AtsUnavailableError } from '../ats-bridge.ts';
import {
  encodeRequest,
  mgmtErrorName,
  MgmtProtocolError,
  OpType,
  parse,
  ProxyState,
  RecordType,
  ResponseReader,
  type Field,
} from './mgmt-marshall.ts';

export interface MgmtClientOptions {
  /** Path of traffic_manager's mgmtapi.sock. */
  socketPath: string;
  /** Per request, connect included. Default 5000 ms. */
  timeoutMs?: number;
}

/** traffic_manager answered with a TSMgmtError other than TS_ERR_OKAY. */
export class MgmtRequestError extends Error {
  override name = 'MgmtRequestError';
  /** The TSMgmtError's name, e.g. 'TS_ERR_PARAMS' (machine-readable, as every `code`). */
  readonly code: string;
  /** The TSMgmtError number as traffic_manager sent it. */
  readonly mgmtError: number;
  constructor(op: string, mgmtError: number, detail?: string) {
    const code = mgmtErrorName(mgmtError);
    super(`${op} failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.code = code;
    this.mgmtError = mgmtError;
  }
}

export type RecordValue =
  | { type: 'int' | 'counter'; value: bigint }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string };

const UNAVAILABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTCONN', 'ECONNABORTED']);

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
}

export class MgmtClient {
  private readonly socketPath: string;
  private readonly timeoutMs: number;
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private reader = new ResponseReader();
  private waiting: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: MgmtClientOptions) {
    this.socketPath = options.socketPath;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Delivers a payload to every plugin hooked on TS_LIFECYCLE_MSG_HOOK (they filter by tag). */
  async lifecycleMessage(tag: string, data: Uint8Array): Promise<void> {
    const body = await this.request('LIFECYCLE_MESSAGE', [
      { type: 'int', value: OpType.LIFECYCLE_MESSAGE },
      { type: 'string', value: tag },
      { type: 'data', value: data },
    ]);
    this.checkStatus('LIFECYCLE_MESSAGE', parse(body, ['int'] as const)[0]);
  }

  async recordGet(name: string): Promise<RecordValue> {
    const body = await this.request('RECORD_GET', [
      { type: 'int', value: OpType.RECORD_GET },
      { type: 'string', value: name },
    ]);
    const [err, _rclass, type, _name, value] = parse(body, ['int', 'int', 'int', 'string', 'data'] as const);
    this.checkStatus('RECORD_GET', err, name);
    const v = Buffer.from(value);
    switch (type) {
      case RecordType.INT:
      case RecordType.COUNTER:
        if (v.length !== 8) throw new MgmtProtocolError(`integer record of ${v.length} bytes`);
        return { type: type === RecordType.INT ? 'int' : 'counter', value: v.readBigInt64LE(0) };
      case RecordType.FLOAT:
        if (v.length !== 4) throw new MgmtProtocolError(`float record of ${v.length} bytes`);
        return { type: 'float', value: v.readFloatLE(0) };
      case RecordType.STRING:
        return { type: 'string', value: v.subarray(0, Math.max(0, v.length - 1)).toString('utf8') };
      default:
        throw new MgmtRequestError('RECORD_GET', 11, `${name} has no value`);
    }
  }

  /** Reads an integer record or stat. */
  async recordGetInt(name: string): Promise<bigint> {
    const r = await this.recordGet(name);
    if (r.type !== 'int' && r.type !== 'counter') throw new MgmtProtocolError(`${name} is not an integer`);
    return r.value;
  }

  /** traffic_manager's view: is traffic_server running? */
  async proxyRunning(): Promise<boolean> {
    const body = await this.request('PROXY_STATE_GET', [{ type: 'int', value: OpType.PROXY_STATE_GET }]);
    const [err, state] = parse(body, ['int', 'int'] as const);
    this.checkStatus('PROXY_STATE_GET', err);
    return state === ProxyState.ON;
  }

  /** Re-reads configuration, like `traffic_ctl config reload`. */
  async reconfigure(): Promise<void> {
    const body = await this.request('RECONFIGURE', [{ type: 'int', value: OpType.RECONFIGURE }]);
    this.checkStatus('RECONFIGURE', parse(body, ['int'] as const)[0]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.drop(new AtsUnavailableError('management client closed'));
  }

  private checkStatus(op: string, code: number, detail?: string): void {
    if (code !== 0) throw new MgmtRequestError(op, code, detail);
  }

  /** Serialises requests: one in flight per connection. */
  private request(op: string, fields: Field[]): Promise<Buffer> {
    const run = this.queue.then(
      () => this.exchange(op, fields),
      () => this.exchange(op, fields),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async exchange(op: string, fields: Field[]): Promise<Buffer> {
    if (this.closed) throw new AtsUnavailableError('management client closed');
    const deadline = Date.now() + this.timeoutMs;
    const socket = await this.connected(deadline);
    if (this.socket !== socket) throw new AtsUnavailableError('traffic_manager closed the management connection');
    const frame = encodeRequest(fields);
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.drop(new AtsUnavailableError(`${op}: no answer from traffic_manager within ${this.timeoutMs} ms`));
        }, Math.max(1, deadline - Date.now()));
        this.waiting = {
          resolve: (b) => {
            clearTimeout(timer);
            resolve(b);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        socket.write(frame);
      });
    } finally {
      // The frame may carry key bytes: zero our copy once it is handed over or failed.
      frame.fill(0);
    }
  }

  private connected(deadline: number): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const s = connect(this.socketPath);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new AtsUnavailableError(`connect to ${this.socketPath} timed out`));
      }, Math.max(1, deadline - Date.now()));
      s.once('connect', () => {
        clearTimeout(timer);
        s.off('error', onConnectError);
        this.attach(s);
        resolve(s);
      });
      const onConnectError = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(toUnavailable(err, this.socketPath));
      };
      s.once('error', onConnectError);
    }).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private attach(s: Socket): void {
    this.socket = s;
    this.reader = new ResponseReader();
    s.on('data', (chunk: Buffer) => {
      let bodies: Buffer[];
      try {
        bodies = this.reader.push(chunk);
      } catch (err) {
        this.drop(err as Error);
        return;
      }
      for (const body of bodies) {
        const w = this.waiting;
        this.waiting = undefined;
        if (w) w.resolve(body);
        else this.drop(new MgmtProtocolError('unexpected response from traffic_manager'));
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => this.drop(toUnavailable(err, this.socketPath)));
    s.on('close', () => this.drop(new AtsUnavailableError('traffic_manager closed the management connection')));
  }

  /** Forgets the connection and fails the request in flight. */
  private drop(err: Error): void {
    const s = this.socket;
    this.socket = undefined;
    if (s) {
      s.removeAllListeners('data');
      s.removeAllListeners('close');
      s.on('error', () => undefined);
      s.destroy();
    }
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }
}

function toUnavailable(err: NodeJS.ErrnoException, path: string): Error {
  if (err.code && UNAVAILABLE_CODES.has(err.code)) {
    return new AtsUnavailableError(`traffic_manager not reachable at ${path}: ${err.code}`, { cause: err });
  }
  return err;
}
