// Who may call the agent, whom the client trusts, TLS reload and the client's limits on an
// agent's answer: real TLS handshakes on loopback.
import { once } from 'node:events';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startAgent, type RunningAgent } from '../../../src/agent/agent.ts';
import { AgentClient, RESPONSE_LIMIT_BYTES, type AgentClientTls, type AgentError } from '../../../src/agent/client.ts';
import { acceptedAgentIdentities, OPERATOR_IDENTITY, podIdentityUri, serviceAccountIdentityUri } from '../../../src/agent/identity.ts';
import { MemoryBridge } from '../../../src/agent/memory-bridge.ts';
import { createCa, issueAgentCert, issueCert, issueOperatorCert, type DevCerts, type PemPair } from '../../../src/dev/certs.ts';
import { AgentPool, type AgentAddress } from '../../../src/operator/reconciler/agents.ts';
import { watchTlsFiles } from '../../../src/tls/reloading-files.ts';
import { newKey } from '../../fixtures/keys.ts';
import { capturedLogger, ringBody, startTestAgent, testCerts, type TestAgent } from './fixtures.ts';
import { agentError } from '../../../dev/agent-process.ts';

let t: TestAgent;
let certs: DevCerts;
const dirs: string[] = [];

async function callWith(tls: AgentClientTls, baseUrl = t.baseUrl): Promise<AgentError> {
  const client = new AgentClient({ baseUrl, tls, timeoutMs: 3000 });
  try {
    return await agentError(client.getRing());
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  t = await startTestAgent();
  certs = await testCerts();
});

afterAll(async () => {
  await t.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * A raw TLS handshake with the agent. With TLS 1.2 the server's Finished comes after it
 * verified the client certificate, so a refusal shows as a handshake that never completes.
 */
function handshake(options: { cert?: string; key?: string; maxVersion: 'TLSv1.2' | 'TLSv1.3' }): Promise<'established' | string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: t.agent.api.port,
      ca: certs.ca.cert,
      checkServerIdentity: () => undefined,
      cert: options.cert,
      key: options.key,
      maxVersion: options.maxVersion,
    });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve('established');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.once('close', () => resolve('closed'));
  });
}

async function startMemoryAgent(serving: PemPair, clientCa: string, clientIdentity?: string): Promise<RunningAgent> {
  return startAgent({
    listen: { host: '127.0.0.1', port: 0 },
    healthListen: { host: '127.0.0.1', port: 0 },
    tls: { cert: serving.cert, key: serving.key, clientCa },
    bridge: new MemoryBridge(),
    logger: capturedLogger().logger,
    ...(clientIdentity ? { clientIdentity } : {}),
  });
}

describe('agent refuses callers that are not the operator', () => {
  const refused: Array<[string, () => Promise<{ cert?: string; key?: string }>]> = [
    ['no client certificate', async () => ({})],
    ['a certificate from another CA with the operator identity', async () => issueOperatorCert(await createCa({ commonName: 'foreign CA' }))],
    ['an expired operator certificate', async () => issueCert(certs.ca, { commonName: 'op', uris: [OPERATOR_IDENTITY], usage: 'client', expired: true })],
    ['the operator identity on a certificate not meant for client authentication', async () => issueCert(certs.ca, { commonName: 'op', uris: [OPERATOR_IDENTITY], usage: 'server' })],
  ];

  it('the operator certificate completes a TLS 1.2 handshake (the control for the refusals)', async () => {
    expect(await handshake({ ...certs.operator, maxVersion: 'TLSv1.2' })).toBe('established');
  });

  it.each(refused)('%s: the TLS 1.2 handshake fails', async (_name, make) => {
    expect(await handshake({ ...(await make()), maxVersion: 'TLSv1.2' })).not.toBe('established');
  });

  it.each(refused)('%s: a TLS 1.3 request gets no HTTP answer and nothing reaches ATS', async (_name, make) => {
    const cert = await make();
    const client = new AgentClient({ baseUrl: t.baseUrl, tls: { ca: certs.ca.cert, cert: cert.cert ?? '', key: cert.key ?? '' } });
    try {
      const err = await agentError(client.putRing(ringBody(1, [newKey()])));
      expect([err.status, err.code]).toEqual([0, 'unreachable']);
    } finally {
      await client.close();
    }
    expect(t.bridge.installCalls).toBe(0);
  });

  it('the operator certificate is answered (the control for the 403s)', async () => {
    const client = new AgentClient({ baseUrl: t.baseUrl, tls: { ca: certs.ca.cert, ...certs.operator } });
    try {
      expect((await client.getRing()).ats).toBeDefined();
    } finally {
      await client.close();
    }
  });

  it.each<[string, () => Promise<PemPair>]>([
    ['the operator name as CN only, no URI SAN', () => issueCert(certs.ca, { commonName: 'ticket-key-operator', usage: 'client' })],
    ['another URI SAN', () => issueCert(certs.ca, { commonName: 'ticket-key-operator', usage: 'client', uris: ['spiffe://ticketkeys.dev/ns/default/sa/default'] })],
    ['the operator URI under another trust domain', () => issueCert(certs.ca, { commonName: 'ticket-key-operator', usage: 'client', uris: ['spiffe://example.org/operator'] })],
  ])('the right CA but %s: 403, and nothing is installed', async (_name, make) => {
    const cert = await make();
    expect((await callWith({ ca: certs.ca.cert, ...cert })).status).toBe(403);
    const client = new AgentClient({ baseUrl: t.baseUrl, tls: { ca: certs.ca.cert, ...cert } });
    try {
      const err = await agentError(client.putRing(ringBody(1, [newKey()])));
      expect([err.status, err.code]).toEqual([403, 'forbidden']);
      expect(t.bridge.installCalls).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('honours --client-identity (a URI)', async () => {
    const agent = await startMemoryAgent(certs.agent, certs.ca.cert, 'spiffe://ticketkeys.dev/operator-staging');
    try {
      const baseUrl = `https://127.0.0.1:${agent.api.port}`;
      expect((await callWith({ ca: certs.ca.cert, ...certs.operator }, baseUrl)).status).toBe(403);
      const staging = await issueOperatorCert(certs.ca, { identity: 'spiffe://ticketkeys.dev/operator-staging' });
      const client = new AgentClient({ baseUrl, tls: { ca: certs.ca.cert, ...staging } });
      expect(await client.getRing()).toMatchObject({ accepted: null, inSync: false });
      await client.close();
    } finally {
      await agent.close();
    }
  });
});

describe('the operator verifies that the agent is the pod it dials', () => {
  const ns = 'edge';
  let agent: RunningAgent | undefined;
  afterAll(async () => {
    await agent?.close();
  });

  async function agentWith(serving: PemPair, clientCa = certs.ca.cert): Promise<string> {
    await agent?.close();
    agent = await startMemoryAgent(serving, clientCa);
    return `https://127.0.0.1:${agent.api.port}`;
  }

  const podB = { namespace: ns, name: 'ats-b', serviceAccountName: 'ats' };
  const asOperatorFor = (pod: typeof podB): AgentClientTls => ({ ca: certs.ca.cert, ...certs.operator, agentIdentities: acceptedAgentIdentities(pod) });

  it("accepts pod B's own certificate at B's address (dialled by IP, no IP or DNS SAN)", async () => {
    const client = new AgentClient({ baseUrl: await agentWith(await issueAgentCert(certs.ca, { namespace: ns, pod: 'ats-b' })), tls: asOperatorFor(podB) });
    try {
      expect(await client.getRing()).toMatchObject({ accepted: null, inSync: false });
    } finally {
      await client.close();
    }
  });

  it("accepts the certificate of B's service account (a per-workload certificate)", async () => {
    const client = new AgentClient({ baseUrl: await agentWith(await issueAgentCert(certs.ca, { namespace: ns, serviceAccount: 'ats' })), tls: asOperatorFor(podB) });
    try {
      expect((await client.getRing()).accepted).toBeNull();
    } finally {
      await client.close();
    }
  });

  it.each<[string, () => Promise<PemPair>, RegExp]>([
    ["pod A's certificate", () => issueAgentCert(certs.ca, { namespace: ns, pod: 'ats-a' }), /ERR_TLS_AGENT_IDENTITY: the agent certificate names spiffe:\/\/ticketkeys\.dev\/ns\/edge\/pod\/ats-a, not spiffe:\/\/ticketkeys\.dev\/ns\/edge\/pod\/ats-b or spiffe:\/\/ticketkeys\.dev\/ns\/edge\/sa\/ats/],
    ['a pod of the same name in another namespace', () => issueAgentCert(certs.ca, { namespace: 'other', pod: 'ats-b' }), /names spiffe:\/\/ticketkeys\.dev\/ns\/other\/pod\/ats-b/],
    ["another workload's certificate", () => issueAgentCert(certs.ca, { namespace: ns, serviceAccount: 'default' }), /names spiffe:\/\/ticketkeys\.dev\/ns\/edge\/sa\/default, not/],
    ['a certificate without URI SAN, even one with the dialled IP', () => issueCert(certs.ca, { commonName: 'ats-b', usage: 'server', dnsNames: ['ats-b'], ipAddresses: ['127.0.0.1'] }), /names no URI SAN/],
    // OpenSSL itself refuses a clientAuth-only certificate from a server (INVALID_PURPOSE).
    ["the operator's client certificate", async () => certs.operator, /INVALID_PURPOSE|not for server authentication/],
  ])("refuses %s at B's address: a 'tls' error that says why", async (_name, make, why) => {
    const err = await callWith(asOperatorFor(podB), await agentWith(await make()));
    expect([err.status, err.code]).toEqual([0, 'tls']);
    expect(err.message).toMatch(why);
  });

  it("refuses B's identity from another CA", async () => {
    const foreign = await createCa({ commonName: 'foreign CA' });
    const err = await callWith(asOperatorFor(podB), await agentWith(await issueAgentCert(foreign, { namespace: ns, pod: 'ats-b' })));
    expect([err.status, err.code]).toEqual([0, 'tls']);
  });

  it('a CA bundle holding two CAs (a rotation overlap) trusts certificates of both, on both sides', async () => {
    const next = await createCa({ commonName: 'next CA' });
    const bundle = `${certs.ca.cert}\n${next.cert}`;
    // Agent certificate from the new CA, operator certificate from the old one.
    const baseUrl = await agentWith(await issueAgentCert(next, { namespace: ns, pod: 'ats-b' }), bundle);
    const client = new AgentClient({ baseUrl, tls: { ...asOperatorFor(podB), ca: bundle } });
    try {
      expect((await client.getRing()).accepted).toBeNull();
    } finally {
      await client.close();
    }
    // The old CA alone does not trust the new agent certificate.
    expect((await callWith(asOperatorFor(podB), baseUrl)).code).toBe('tls');
  });
});

describe('AgentPool: one dispatcher per pod, bound to it', () => {
  let a: RunningAgent;
  beforeAll(async () => {
    a = await startMemoryAgent(await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-a' }), certs.ca.cert);
  });
  afterAll(async () => {
    await a.close();
  });
  const at = (name: string, uid = `uid-${name}`): AgentAddress => ({ ip: '127.0.0.1', port: a.api.port, pod: { uid, namespace: 'edge', name, serviceAccountName: 'ats' } });

  it("reaches pod A's agent as A, and refuses it as pod B", async () => {
    const pool = new AgentPool({ tls: { ca: certs.ca.cert, ...certs.operator }, timeoutMs: 3000 });
    try {
      expect((await pool.getRing(at('ats-a'))).ats).toBeDefined();
      const err = await agentError(pool.getRing(at('ats-b')));
      expect([err.code, err.message]).toEqual(['tls', expect.stringMatching(/names spiffe:\/\/ticketkeys\.dev\/ns\/edge\/pod\/ats-a, not spiffe:\/\/ticketkeys\.dev\/ns\/edge\/pod\/ats-b/)]);
      expect(a.keeper.status().ready).toBe(false); // nothing was pushed either way
    } finally {
      await pool.close();
    }
  });

  it('picks up a new CA bundle for new connections (setTls), and refuses a broken pair keeping the old', async () => {
    const next = await createCa({ commonName: 'next CA' });
    const b = await startMemoryAgent(await issueAgentCert(next, { namespace: 'edge', pod: 'ats-a' }), certs.ca.cert);
    const pool = new AgentPool({ tls: { ca: certs.ca.cert, ...certs.operator }, timeoutMs: 3000 });
    try {
      const addr = { ...at('ats-a'), port: b.api.port };
      expect((await agentError(pool.getRing(addr))).code).toBe('tls');
      const other = await issueOperatorCert(certs.ca);
      expect(() => pool.setTls({ ca: `${certs.ca.cert}\n${next.cert}`, cert: certs.operator.cert, key: other.key })).toThrow(/key values mismatch/);
      expect((await agentError(pool.getRing(addr))).code).toBe('tls'); // the old material, still in use
      pool.setTls({ ca: `${certs.ca.cert}\n${next.cert}`, ...certs.operator });
      expect((await pool.getRing(addr)).ats).toBeDefined();
    } finally {
      await pool.close();
      await b.close();
    }
  });

  it("follows the operator's TLS files as run.ts wires it: a CA added to the bundle file is trusted without a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tko-optls-'));
    dirs.push(dir);
    const next = await createCa({ commonName: 'next CA' });
    const b = await startMemoryAgent(await issueAgentCert(next, { namespace: 'edge', pod: 'ats-a' }), certs.ca.cert);
    await writeFile(join(dir, 'tls.crt'), certs.operator.cert);
    await writeFile(join(dir, 'tls.key'), certs.operator.key);
    await writeFile(join(dir, 'ca.crt'), certs.ca.cert);
    const pool = new AgentPool({ timeoutMs: 3000 });
    const files = await watchTlsFiles({
      what: 'operator',
      paths: ['tls.crt', 'tls.key', 'ca.crt'].map((f) => join(dir, f)),
      apply: ([cert, key, ca]) => pool.setTls({ cert: cert!, key: key!, ca: ca! }),
      logger: capturedLogger().logger,
      intervalMs: 50,
    });
    try {
      const addr = { ...at('ats-a'), port: b.api.port };
      expect((await agentError(pool.getRing(addr))).code).toBe('tls');
      await writeFile(join(dir, 'ca.crt'), `${certs.ca.cert}\n${next.cert}`);
      let answered = false;
      for (let i = 0; i < 100 && !answered; i++) {
        answered = await pool.getRing(addr).then(() => true, () => false);
        if (!answered) await sleep(50);
      }
      expect(answered).toBe(true);
    } finally {
      await files.stop();
      await pool.close();
      await b.close();
    }
  });

  it('keeps at most maxPods dispatchers, and closes a pod’s when it goes away', async () => {
    const pool = new AgentPool({ tls: { ca: certs.ca.cert, ...certs.operator }, timeoutMs: 3000, maxPods: 2 });
    try {
      for (const uid of ['u1', 'u2', 'u3']) await pool.getRing(at('ats-a', uid));
      expect(pool.size).toBe(2);
      pool.forgetPod('u3');
      expect(pool.size).toBe(1);
      expect((await pool.getRing(at('ats-a', 'u3'))).ats).toBeDefined();
    } finally {
      await pool.close();
    }
  });
});

describe('the agent reloads its certificate and CA files without a restart', () => {
  /** Kubelet-style files: tls.crt etc. are symlinks into a versioned directory, swapped at once. */
  async function secretVolume(): Promise<{ dir: string; publish(files: Record<string, string>): Promise<void> }> {
    const dir = await mkdtemp(join(tmpdir(), 'tko-reload-'));
    dirs.push(dir);
    let version = 0;
    const publish = async (files: Record<string, string>) => {
      const v = join(dir, `..v${++version}`);
      await mkdir(v);
      for (const [name, text] of Object.entries(files)) await writeFile(join(v, name), text);
      await symlink(v, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      for (const name of Object.keys(files)) await symlink(join('..data', name), join(dir, name)).catch(() => {});
    };
    return { dir, publish };
  }

  async function startFromFiles(dir: string): Promise<{ agent: RunningAgent; lines: string[]; baseUrl: string }> {
    const { logger, lines } = capturedLogger();
    const agent = await startAgent({
      listen: { host: '127.0.0.1', port: 0 },
      healthListen: { host: '127.0.0.1', port: 0 },
      tlsFiles: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), clientCa: join(dir, 'ca.crt'), reloadIntervalMs: 50 },
      bridge: new MemoryBridge(),
      logger,
    });
    return { agent, lines, baseUrl: `https://127.0.0.1:${agent.api.port}` };
  }

  /** A fresh client (a new connection) that accepts only `pod`'s identity; resolves to whether it got an answer. */
  async function answersAs(baseUrl: string, pod: string, ca = certs.ca.cert): Promise<boolean> {
    const client = new AgentClient({ baseUrl, tls: { ca, ...certs.operator, agentIdentities: acceptedAgentIdentities({ namespace: 'edge', name: pod }) }, timeoutMs: 3000 });
    try {
      await client.getRing();
      return true;
    } catch {
      return false;
    } finally {
      await client.close();
    }
  }

  async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (await check()) return;
      await sleep(50);
    }
    throw new Error(`never: ${what}`);
  }

  it('serves a renewed certificate and trusts a new CA bundle once the files change', async () => {
    const vol = await secretVolume();
    const a = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-a' });
    await vol.publish({ 'tls.crt': a.cert, 'tls.key': a.key, 'ca.crt': certs.ca.cert });
    const { agent, lines, baseUrl } = await startFromFiles(vol.dir);
    try {
      expect(await answersAs(baseUrl, 'ats-a')).toBe(true);
      // Renewal under a new CA, and an operator certificate from that CA: the bundle carries both.
      const next = await createCa({ commonName: 'next CA' });
      const renewed = await issueAgentCert(next, { namespace: 'edge', pod: 'ats-b' });
      await vol.publish({ 'tls.crt': renewed.cert, 'tls.key': renewed.key, 'ca.crt': `${certs.ca.cert}\n${next.cert}` });
      await eventually(() => answersAs(baseUrl, 'ats-b', `${certs.ca.cert}\n${next.cert}`), 'the renewed certificate is served');
      expect(await answersAs(baseUrl, 'ats-a', `${certs.ca.cert}\n${next.cert}`)).toBe(false);
      const nextOperator = await issueOperatorCert(next);
      const client = new AgentClient({ baseUrl, tls: { ca: `${certs.ca.cert}\n${next.cert}`, ...nextOperator } });
      expect((await client.getRing()).accepted).toBeNull();
      await client.close();
      expect(lines.some((l) => l.includes('TLS files reloaded'))).toBe(true);
    } finally {
      await agent.close();
    }
  });

  it('keeps the old certificate when the new pair is broken, and takes the next good one', async () => {
    const vol = await secretVolume();
    const a = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-a' });
    await vol.publish({ 'tls.crt': a.cert, 'tls.key': a.key, 'ca.crt': certs.ca.cert });
    const { agent, lines, baseUrl } = await startFromFiles(vol.dir);
    try {
      const b = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-b' });
      const c = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-c' });
      await vol.publish({ 'tls.crt': b.cert, 'tls.key': c.key, 'ca.crt': certs.ca.cert });
      await eventually(async () => lines.some((l) => l.includes('new TLS files refused')), 'the mismatched pair is refused');
      expect(lines.find((l) => l.includes('new TLS files refused'))).toMatch(/key values mismatch/);
      expect(await answersAs(baseUrl, 'ats-a')).toBe(true);
      expect(await answersAs(baseUrl, 'ats-b')).toBe(false);
      for (const l of lines) expect(l).not.toContain(c.key.split('\n')[1]!);
      await vol.publish({ 'tls.crt': b.cert, 'tls.key': b.key, 'ca.crt': certs.ca.cert });
      await eventually(() => answersAs(baseUrl, 'ats-b'), 'the next good pair is served');
    } finally {
      await agent.close();
    }
  });
});

describe('client limits on what an agent answers', () => {
  let hostile: HttpsServer;
  let baseUrl: string;
  let behaviour: (res: import('node:http').ServerResponse) => void;
  let sent = 0;
  let allSent = false;

  beforeAll(async () => {
    // Speaks TLS with a valid agent certificate: the client gets as far as reading the answer.
    const serving = await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'hostile' });
    hostile = createHttpsServer({ ...serving }, (_req, res) => behaviour(res));
    hostile.listen(0, '127.0.0.1');
    await once(hostile, 'listening');
    baseUrl = `https://127.0.0.1:${(hostile.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    hostile.closeAllConnections();
    await new Promise<void>((r) => hostile.close(() => r()));
  });

  function client(timeoutMs: number): AgentClient {
    return new AgentClient({ baseUrl, tls: { ca: certs.ca.cert, ...certs.operator }, timeoutMs });
  }

  it('a 100 MB response is cut off at the limit, not read', async () => {
    const MB = Buffer.alloc(1024 * 1024, 0x20);
    sent = 0;
    allSent = false;
    behaviour = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no length to refuse up front
      const more = () => {
        while (sent < 100 && !res.destroyed) {
          sent++;
          if (!res.write(MB)) return void res.once('drain', more);
        }
        if (sent >= 100) {
          allSent = true;
          res.end();
        }
      };
      more();
    };
    const c = client(20_000);
    try {
      const err = await agentError(c.getRing());
      expect([err.status, err.code, err.message]).toEqual([200, 'bad_response', expect.stringContaining(`response exceeds ${RESPONSE_LIMIT_BYTES} bytes`)]);
    } finally {
      await c.close();
    }
    expect(allSent).toBe(false);
  });

  it('a 100 MB content-length is refused before reading', async () => {
    behaviour = (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100 * 1024 * 1024) });
      res.write('{');
    };
    const c = client(20_000);
    try {
      const err = await agentError(c.getRing());
      expect([err.code, err.message]).toEqual(['bad_response', expect.stringContaining('response exceeds')]);
    } finally {
      await c.close();
    }
  });

  it('a slow-loris body (a byte at a time, forever) fails with timeout: the deadline covers the body', async () => {
    const timers: NodeJS.Timeout[] = [];
    behaviour = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(' ')), 50);
      timers.push(drip);
    };
    const c = client(600);
    try {
      const err = await agentError(c.getRing());
      expect([err.status, err.code]).toEqual([0, 'timeout']);
    } finally {
      for (const d of timers) clearInterval(d);
      await c.close();
    }
  }, 10_000);
});

describe('client transport errors', () => {
  it('a closed port is unreachable', async () => {
    const server = createTcpServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const err = await callWith({ ca: certs.ca.cert, ...certs.operator }, `https://127.0.0.1:${port}`);
    expect([err.status, err.code]).toEqual([0, 'unreachable']);
  });

  it('an agent that never answers times out', async () => {
    const sockets: Array<import('node:net').Socket> = [];
    const server: TcpServer = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const client = new AgentClient({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.ca.cert, ...certs.operator }, timeoutMs: 200 });
    try {
      const err = await agentError(client.getRing());
      expect([err.status, err.code]).toEqual([0, 'timeout']);
    } finally {
      await client.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('identity URIs', () => {
  it('builds per-pod and per-workload identities and refuses names that would forge a path', () => {
    expect(podIdentityUri('edge', 'ats-0')).toBe('spiffe://ticketkeys.dev/ns/edge/pod/ats-0');
    expect(serviceAccountIdentityUri('edge', 'ats')).toBe('spiffe://ticketkeys.dev/ns/edge/sa/ats');
    expect(acceptedAgentIdentities({ namespace: 'edge', name: 'ats-0' })).toEqual(['spiffe://ticketkeys.dev/ns/edge/pod/ats-0', 'spiffe://ticketkeys.dev/ns/edge/sa/default']);
    expect(() => podIdentityUri('edge', 'a/pod/b')).toThrow(/invalid pod name/);
    expect(() => serviceAccountIdentityUri('', 'x')).toThrow(/invalid namespace/);
  });
});
