// A plain HTTPS request to the API server as a KubeConfig's user. The generated clients of
// client-node pass bodies through their model serializer, which silently drops fields it does
// not model under their wire names (`default`, `x-kubernetes-validations` in a raw CRD), and
// they cannot ask for other representations (Table) or raw status codes; this can.
import { request } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface RawResponse {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

export async function kubeRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<RawResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('KubeConfig has no current cluster');
  const url = new URL(path, cluster.server);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const opts: RequestOptions = {
    method,
    headers: { Accept: 'application/json', ...(payload ? { 'Content-Type': 'application/json' } : {}), ...options.headers },
    agent: false,
  };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, json: <T>() => JSON.parse(body) as T }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
