// A GET over mutual TLS, used to poll health endpoints before any client library is involved.
import { request } from 'node:https';

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export function httpsGet(url: string, tls: TlsMaterial, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
