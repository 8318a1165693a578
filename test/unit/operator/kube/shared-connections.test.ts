// API requests share kept-alive connections, and new TLS material gets new ones: a real HTTPS
// server on loopback that demands a client certificate and counts the TLS connections made to it.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createCa, issueCert, type CertAuthority } from '../../../../src/dev/certs.ts';
import { shareApiServerConnections } from '../../../../src/operator/kube/shared-connections.ts';

let ca: CertAuthority;
let server: Server;
let dir: string;
let server_url: string;
/** TLS connections the server accepted, and the client certificate's CN of each. */
const connections: string[] = [];

beforeAll(async () => {
  ca = await createCa();
  const serving = await issueCert(ca, { commonName: 'kube-apiserver', usage: 'server', ipAddresses: ['127.0.0.1'] });
  server = createServer({ cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/?]+)/.exec(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (!m) {
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound', message: 'not found' }));
      return;
    }
    res.end(JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { namespace: m[1], name: m[2] }, data: { n: String(connections.length) } }));
  });
  server.on('secureConnection', (socket) => connections.push(String((socket.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  server_url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'tko-shared-connections-'));
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

/** A kubeconfig whose client certificate is read from files (as client-node does, per request). */
async function kubeConfig(commonName: string): Promise<KubeConfig> {
  await writeClientCert(commonName);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: server_url, caData: Buffer.from(ca.cert).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'u', certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key') }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function writeClientCert(commonName: string): Promise<void> {
  const client = await issueCert(ca, { commonName, usage: 'client' });
  await writeFile(join(dir, 'client.crt'), client.cert);
  await writeFile(join(dir, 'client.key'), client.key, { mode: 0o600 });
}

async function readConfigMaps(kc: KubeConfig, n: number): Promise<void> {
  const api = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < n; i++) {
    const cm = await api.readNamespacedConfigMap({ namespace: 'edge', name: `cm-${i}` });
    expect(cm.metadata?.name).toBe(`cm-${i}`);
  }
}

describe('shareApiServerConnections', () => {
  it('client-node alone opens a TLS connection per request (why the module exists)', async () => {
    connections.length = 0;
    await readConfigMaps(await kubeConfig('alone'), 4);
    expect(connections).toEqual(['alone', 'alone', 'alone', 'alone']);
  });

  it('shared: sequential requests and bursts reuse kept-alive connections', async () => {
    connections.length = 0;
    const kc = await kubeConfig('shared');
    const shared = shareApiServerConnections(kc);
    try {
      await readConfigMaps(kc, 8);
      // undici may open a second connection while the first finishes its response; never one per request.
      expect(connections.length).toBeLessThanOrEqual(2);
      expect(connections.every((cn) => cn === 'shared')).toBe(true);
      // A burst opens at most one connection per request in flight, and they stay for the next burst.
      const api = kc.makeApiClient(CoreV1Api);
      const burst = () => Promise.all([0, 1, 2].map((i) => api.readNamespacedConfigMap({ namespace: 'edge', name: `p-${i}` })));
      await burst();
      const afterFirstBurst = connections.length;
      expect(afterFirstBurst).toBeLessThanOrEqual(5);
      // Once the pool has seen the responses end, its connections serve the next bursts.
      for (let i = 0; i < 3; i++) {
        await sleep(50);
        await burst();
      }
      expect(connections.length).toBe(afterFirstBurst);
      expect(shared.built).toBe(1);
    } finally {
      await shared.close();
    }
  });

  it('a renewed client certificate gets new connections, which carry the new certificate', async () => {
    connections.length = 0;
    const kc = await kubeConfig('before');
    const closeErrors: unknown[] = [];
    const shared = shareApiServerConnections(kc, (err) => closeErrors.push(err));
    try {
      await readConfigMaps(kc, 4);
      const before = connections.length;
      expect(connections).toEqual(Array(before).fill('before'));
      await writeClientCert('after');
      await readConfigMaps(kc, 4);
      expect(connections.length).toBeGreaterThan(before);
      expect(connections.slice(before)).toEqual(Array(connections.length - before).fill('after'));
      expect(shared.built).toBe(2);
      expect(closeErrors).toEqual([]);
    } finally {
      await shared.close();
    }
  });

  it('refuses a client-node without the dispatcher hook it relies on, rather than sharing nothing', () => {
    const kc = new KubeConfig();
    Object.defineProperty(kc, 'createDispatcher', { value: undefined });
    expect(() => shareApiServerConnections(kc)).toThrow(/createDispatcher/);
  });
});
