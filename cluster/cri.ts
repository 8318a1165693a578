// Just enough of the CRI (gRPC over HTTP/2 on containerd's socket, hand-encoded protobuf) to
// stop and remove every pod sandbox at `down`. Stopping a sandbox is what runs CNI DEL and
// removes its network namespace and veth, as kubelet would; killing processes would not.
import { connect } from 'node:http2';
import { connect as netConnect } from 'node:net';

const SERVICE = '/runtime.v1.RuntimeService';

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function stringField(field: number, value: string): Buffer {
  const data = Buffer.from(value);
  return Buffer.concat([varint((field << 3) | 2), varint(data.length), data]);
}

/** Length-delimited fields of a message, by field number. */
function lengthDelimited(message: Buffer): Map<number, Buffer[]> {
  const fields = new Map<number, Buffer[]>();
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = message[pos++];
      if (byte === undefined) throw new Error('truncated protobuf');
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  };
  while (pos < message.length) {
    const key = readVarint();
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = readVarint();
      const list = fields.get(key >> 3) ?? [];
      list.push(message.subarray(pos, pos + len));
      fields.set(key >> 3, list);
      pos += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return fields;
}

function call(socket: string, method: string, body: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const session = connect('http://localhost', { createConnection: () => netConnect(socket) });
    const fail = (err: Error): void => {
      session.destroy();
      reject(err);
    };
    session.on('error', fail);
    const timer = setTimeout(() => fail(new Error(`CRI ${method} timed out`)), timeoutMs);
    const req = session.request({ ':method': 'POST', ':path': `${SERVICE}/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    let status = '0';
    let message = '';
    req.on('trailers', (trailers) => {
      status = String(trailers['grpc-status'] ?? '0');
      message = String(trailers['grpc-message'] ?? '');
    });
    req.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
    });
    req.on('error', fail);
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      if (status !== '0') return reject(new Error(`CRI ${method}: grpc status ${status} ${decodeURIComponent(message)}`));
      const data = Buffer.concat(chunks);
      // One gRPC frame: compressed flag, 4-byte length, message.
      resolve(data.length >= 5 ? data.subarray(5, 5 + data.readUInt32BE(1)) : Buffer.alloc(0));
    });
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(body.length, 1);
    req.end(Buffer.concat([frame, body]));
  });
}

export async function listPodSandboxIds(socket: string, timeoutMs = 10_000): Promise<string[]> {
  const response = await call(socket, 'ListPodSandbox', Buffer.alloc(0), timeoutMs);
  return (lengthDelimited(response).get(1) ?? []).map((item) => lengthDelimited(item).get(1)?.[0]?.toString() ?? '').filter(Boolean);
}

/** Stops (CNI DEL, containers killed) and removes every pod sandbox; returns how many. */
export async function removeAllPodSandboxes(socket: string, timeoutMs = 30_000): Promise<number> {
  const ids = await listPodSandboxIds(socket);
  for (const id of ids) {
    await call(socket, 'StopPodSandbox', stringField(1, id), timeoutMs);
    await call(socket, 'RemovePodSandbox', stringField(1, id), timeoutMs);
  }
  return ids.length;
}
