// The origin behind a dev ATS instance: a tiny HTTP server answering 200 "ok" on an
// ephemeral port of the instance's address.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Origin {
  port: number;
  close(): Promise<void>;
}

export async function startOrigin(addr: string): Promise<Origin> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
    res.end('ok\n');
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, addr, () => resolve());
  });
  server.unref(); // never keeps a test process alive on its own
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
