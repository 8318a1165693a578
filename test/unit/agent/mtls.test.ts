// Who may call the agent, and whom the client trusts: real TLS handshakes on loopback.
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startAgent, type RunningAgent } from '../../../src/agent/agent.ts';
import { AgentClient, type AgentClientTls, type AgentError } from '../../../src/agent/client.ts';
import { MemoryBridge } from '../../../src/agent/memory-bridge.ts';
import { AGENT_SERVER_NAME, OPERATOR_IDENTITY } from '../../../src/agent/protocol.ts';
import { createCa, issueCert, type DevCerts } from '../../../src/dev/certs.ts';
import { capturedLogger, newKey, ringBody, startTestAgent, testCerts, type TestAgent } from './fixtures.ts';
import { agentError } from '../../helpers/agent.ts';

let t: TestAgent;
let certs: DevCerts;


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
      servername: AGENT_SERVER_NAME,
      ca: certs.ca.cert,
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

describe('agent refuses callers that are not the operator', () => {
  const refused: Array<[string, () => Promise<{ cert?: string; key?: string }>]> = [
    ['no client certificate', async () => ({})],
    ['a certificate from another CA with the operator identity', async () => issueCert(await createCa({ commonName: 'foreign CA' }), { commonName: OPERATOR_IDENTITY, usage: 'client' })],
    ['an expired operator certificate', async () => issueCert(certs.ca, { commonName: OPERATOR_IDENTITY, usage: 'client', expired: true })],
    ['the operator name on a certificate not meant for client authentication', async () => issueCert(certs.ca, { commonName: OPERATOR_IDENTITY, usage: 'server' })],
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

  it('the right CA but another identity: 403', async () => {
    const cert = await issueCert(certs.ca, { commonName: 'some-other-workload', usage: 'client' });
    const err = await callWith({ ca: certs.ca.cert, ...cert });
    expect([err.status, err.code]).toEqual([403, 'forbidden']);
  });

  it('another identity cannot install a ring', async () => {
    const cert = await issueCert(certs.ca, { commonName: 'some-other-workload', usage: 'client' });
    const client = new AgentClient({ baseUrl: t.baseUrl, tls: { ca: certs.ca.cert, ...cert } });
    try {
      const err = await agentError(client.putRing(ringBody(1, [newKey()])));
      expect(err.status).toBe(403);
      expect(t.bridge.installCalls).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('honours --client-identity', async () => {
    const { logger } = capturedLogger();
    const agent = await startAgent({
      listen: { host: '127.0.0.1', port: 0 },
      healthListen: { host: '127.0.0.1', port: 0 },
      tls: { cert: certs.agent.cert, key: certs.agent.key, clientCa: certs.ca.cert },
      bridge: new MemoryBridge(),
      logger,
      clientIdentity: 'tko-staging',
    });
    try {
      const baseUrl = `https://127.0.0.1:${agent.api.port}`;
      expect((await callWith({ ca: certs.ca.cert, ...certs.operator }, baseUrl)).status).toBe(403);
      const staging = await issueCert(certs.ca, { commonName: 'tko-staging', usage: 'client' });
      const client = new AgentClient({ baseUrl, tls: { ca: certs.ca.cert, ...staging } });
      expect(await client.readyz()).toEqual({ ready: false, reason: 'no ring accepted yet' });
      await client.close();
    } finally {
      await agent.close();
    }
  });
});

describe('client verifies the agent', () => {
  let agent: RunningAgent | undefined;
  afterAll(async () => {
    await agent?.close();
  });

  async function agentWith(serving: { cert: string; key: string }): Promise<string> {
    await agent?.close();
    agent = await startAgent({
      listen: { host: '127.0.0.1', port: 0 },
      healthListen: { host: '127.0.0.1', port: 0 },
      tls: { cert: serving.cert, key: serving.key, clientCa: certs.ca.cert },
      bridge: new MemoryBridge(),
      logger: capturedLogger().logger,
    });
    return `https://127.0.0.1:${agent.api.port}`;
  }

  it(`dials an IP and verifies the fixed name ${AGENT_SERVER_NAME}`, async () => {
    // No IP SAN: only the fixed DNS name can make this verify.
    const serving = await issueCert(certs.ca, { commonName: AGENT_SERVER_NAME, usage: 'server', dnsNames: [AGENT_SERVER_NAME] });
    const client = new AgentClient({ baseUrl: await agentWith(serving), tls: { ca: certs.ca.cert, ...certs.operator } });
    try {
      expect(await client.readyz()).toEqual({ ready: false, reason: 'no ring accepted yet' });
    } finally {
      await client.close();
    }
  });

  it('refuses an agent certificate for another name, even one with the dialled IP', async () => {
    const serving = await issueCert(certs.ca, { commonName: 'proxy.example', usage: 'server', dnsNames: ['proxy.example'], ipAddresses: ['127.0.0.1'] });
    const err = await callWith({ ca: certs.ca.cert, ...certs.operator }, await agentWith(serving));
    expect([err.status, err.code]).toEqual([0, 'tls']);
    expect(err.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('refuses an agent certificate from another CA', async () => {
    const foreign = await createCa({ commonName: 'foreign CA' });
    const serving = await issueCert(foreign, { commonName: AGENT_SERVER_NAME, usage: 'server', dnsNames: [AGENT_SERVER_NAME] });
    const err = await callWith({ ca: certs.ca.cert, ...certs.operator }, await agentWith(serving));
    expect([err.status, err.code]).toEqual([0, 'tls']);
  });
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
