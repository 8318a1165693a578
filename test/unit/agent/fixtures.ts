// Shared set-up for the agent's unit tests: ring bodies, a captured logger and a real agent
// (memory bridge) on loopback with freshly generated certificates. Keys come from
// test/fixtures/keys.ts.
import { Writable } from 'node:stream';
import { startAgent, type RunningAgent } from '../../../src/agent/agent.ts';
import { AgentClient, createAgentDispatcher } from '../../../src/agent/client.ts';
import { MemoryBridge } from '../../../src/agent/memory-bridge.ts';
import type { KeyState, PutRingRequest } from '../../../src/agent/protocol.ts';
import { keyFingerprint } from '../../../src/core/fingerprint.ts';
import { createDevCerts, type DevCerts } from '../../../src/dev/certs.ts';
import { createLogger, type Logger } from '../../../src/observability/logger.ts';

/** A PUT /v1/ring body; keys[0] active, the rest staged unless `states` says otherwise. */
export function ringBody(generation: number, keys: Buffer[], options: { states?: KeyState[]; revoke?: boolean } = {}): PutRingRequest {
  return {
    generation,
    keys: keys.map((k, i) => ({
      fingerprint: keyFingerprint(k),
      material: k.toString('base64'),
      state: options.states?.[i] ?? (i === 0 ? 'active' : 'staged'),
    })),
    ...(options.revoke === undefined ? {} : { revoke: options.revoke }),
  };
}

export function capturedLogger(component = 'agent-test'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      cb();
    },
  });
  return { logger: createLogger({ component, level: 'debug', stream }), lines };
}

let certs: Promise<DevCerts> | undefined;
/** One set of dev certificates per test file (ECDSA generation is cheap but not free). */
export function testCerts(): Promise<DevCerts> {
  certs ??= createDevCerts();
  return certs;
}

export interface TestAgent {
  agent: RunningAgent;
  bridge: MemoryBridge;
  lines: string[];
  client: AgentClient;
  baseUrl: string;
  healthUrl: string;
  close(): Promise<void>;
}

export async function startTestAgent(options: { readbackDeadlineMs?: number; reassertIntervalMs?: number } = {}): Promise<TestAgent> {
  const c = await testCerts();
  const bridge = new MemoryBridge();
  const { logger, lines } = capturedLogger();
  const agent = await startAgent({
    listen: { host: '127.0.0.1', port: 0 },
    healthListen: { host: '127.0.0.1', port: 0 },
    tls: { cert: c.agent.cert, key: c.agent.key, clientCa: c.ca.cert },
    bridge,
    logger,
    readbackDeadlineMs: options.readbackDeadlineMs ?? 150,
    reassertIntervalMs: options.reassertIntervalMs ?? 20,
  });
  const baseUrl = `https://127.0.0.1:${agent.api.port}`;
  const client = new AgentClient({ baseUrl, tls: { ca: c.ca.cert, cert: c.operator.cert, key: c.operator.key } });
  return {
    agent,
    bridge,
    lines,
    client,
    baseUrl,
    healthUrl: `http://127.0.0.1:${agent.health.port}`,
    async close() {
      await client.close();
      await agent.close();
    },
  };
}

/** Raw mTLS requests with the operator's certificate, for bodies the typed client cannot send. */
export async function operatorDispatcher(): Promise<ReturnType<typeof createAgentDispatcher>> {
  const c = await testCerts();
  return createAgentDispatcher({ ca: c.ca.cert, cert: c.operator.cert, key: c.operator.key });
}

/** Polls `probe` until it returns true (state changes driven by the re-assert loop). */
export async function waitFor(probe: () => boolean | Promise<boolean>, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
