// Spawns a real `tko agent` process (node running src/cli/main.ts) for e2e tests and the
// benchmark, and waits until both listeners are bound. Ports are picked by the agent
// (HOST:0, unless `port` / `healthPort` fix them) and read from the line it prints on stdout
// once listening.
//
//   const certs = await createDevCerts(); const files = await writeDevCerts(dir, certs);
//   const agent = await spawnAgent({ certs: files, atsRunroot: ats.runroot });
//   agent.client()                 AgentClient with the operator certificate
//   agent.baseUrl / agent.healthUrl
//   agent.pid, agent.logs()        JSON log lines so far (stderr)
//   await agent.stop()             SIGTERM, waits for exit
//
//   const env = await startAtsWithAgent({ addr: '127.0.0.61' })   ATS + agent + dev certs
//   const err = await agentError(client.putRing(...))            the AgentError it fails with
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentClient, AgentError } from '../src/agent/client.ts';
import { startAts, type AtsInstance, type StartAtsOptions } from '../src/dev/ats.ts';
import { createDevCerts, writeDevCerts, type DevCertFiles, type DevCerts } from '../src/dev/certs.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface SpawnAgentOptions {
  certs: DevCertFiles;
  /** ATS runroot for `--installer ats` (default installer). */
  atsRunroot?: string;
  installer?: 'ats' | 'memory';
  /** Loopback address for both listeners. Default 127.0.0.1. */
  host?: string;
  /** API port on host. Default 0 (the agent picks one). */
  port?: number;
  /** Health/metrics port on host. Default 0 (the agent picks one). */
  healthPort?: number;
  /** URI SAN the operator's client certificate must carry (--client-identity). */
  clientIdentity?: string;
  /** --tls-reload-interval-ms (default the agent's, 5000). */
  tlsReloadIntervalMs?: number;
  readbackTimeoutMs?: number;
  reassertIntervalMs?: number;
  /** --config-dir / --config-debounce-ms: the mounted ATS config directory the agent reloads. */
  configDir?: string;
  configDebounceMs?: number;
  /** --session-fifo: the FIFO the ATS plugin exports new TLS sessions to (session sharing). */
  sessionFifo?: string;
  /** --session-import-fifo: the FIFO the agent hands received sessions to the ATS plugin through. */
  sessionImportFifo?: string;
  /** Default 'info'. */
  logLevel?: string;
  startTimeoutMs?: number;
  /** The CLI entry to run; default src/cli/main.ts (type-stripped). The bench passes compiled JS. */
  entry?: string;
  /** Extra environment, e.g. NODE_OPTIONS as the agent container sets it. */
  env?: Record<string, string>;
  /** Node/V8 flags before the entry (for flags NODE_OPTIONS does not accept). */
  nodeArgs?: string[];
  /** More `tko agent` flags, e.g. ['--ack-fifo', path]. */
  extraArgs?: string[];
}

export interface SpawnedAgent {
  pid: number;
  baseUrl: string;
  healthUrl: string;
  logs(): string[];
  /** A client with the operator certificate; it accepts any agent identity of the CA (the caller closes it). */
  client(options?: { timeoutMs?: number }): AgentClient;
  stop(): Promise<void>;
}

export async function spawnAgent(options: SpawnAgentOptions): Promise<SpawnedAgent> {
  const host = options.host ?? '127.0.0.1';
  const args = [
    ...(options.nodeArgs ?? []),
    options.entry ?? join(REPO, 'src/cli/main.ts'),
    'agent',
    '--listen', `${host}:${options.port ?? 0}`,
    '--health-listen', `${host}:${options.healthPort ?? 0}`,
    '--tls-cert', options.certs.agentCert,
    '--tls-key', options.certs.agentKey,
    '--client-ca', options.certs.caCert,
    '--installer', options.installer ?? 'ats',
  ];
  if (options.atsRunroot) args.push('--ats-runroot', options.atsRunroot);
  if (options.clientIdentity) args.push('--client-identity', options.clientIdentity);
  if (options.tlsReloadIntervalMs) args.push('--tls-reload-interval-ms', String(options.tlsReloadIntervalMs));
  if (options.readbackTimeoutMs) args.push('--readback-timeout-ms', String(options.readbackTimeoutMs));
  if (options.reassertIntervalMs) args.push('--reassert-interval-ms', String(options.reassertIntervalMs));
  if (options.configDir) args.push('--config-dir', options.configDir);
  if (options.configDebounceMs) args.push('--config-debounce-ms', String(options.configDebounceMs));
  if (options.sessionFifo) args.push('--session-fifo', options.sessionFifo);
  if (options.sessionImportFifo) args.push('--session-import-fifo', options.sessionImportFifo);
  args.push(...(options.extraArgs ?? []));

  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, ...options.env, TKO_LOG_LEVEL: options.logLevel ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The agent announces its bound addresses on stdout, one JSON line, whatever the log level.
  const listening = new Promise<{ api: string; health: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; api?: string; health?: string };
        if (msg.event === 'listening' && msg.api && msg.health) resolve({ api: msg.api, health: msg.health });
      } catch {
        // not ours
      }
    });
    void exited.then((code) => reject(new Error(`tko agent exited with ${code} before listening:\n${lines.join('\n')}`)));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`tko agent not listening after ${options.startTimeoutMs ?? 20000} ms:\n${lines.join('\n')}`)), options.startTimeoutMs ?? 20000);
  });
  let bound: { api: string; health: string };
  try {
    bound = await Promise.race([listening, timeout]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }

  // Read when a client is made: an agent fed by the operator's PKI has no operator files here.
  const tls = () => ({
    ca: readFileSync(options.certs.caCert),
    cert: readFileSync(options.certs.operatorCert),
    key: readFileSync(options.certs.operatorKey),
  });
  return {
    pid: child.pid!,
    baseUrl: `https://${bound.api}`,
    healthUrl: `http://${bound.health}`,
    logs: () => [...lines],
    client: (o = {}) => new AgentClient({ baseUrl: `https://${bound.api}`, tls: tls(), timeoutMs: o.timeoutMs ?? 10_000 }),
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** The AgentError a call fails with (fails the test if it succeeds or fails otherwise). */
export async function agentError(call: Promise<unknown>): Promise<AgentError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof AgentError) return err;
    throw err;
  }
  throw new Error('expected the agent call to fail');
}

/** A private ATS with a real `tko agent` beside it, as in a pod: the e2e tests' and bench's set-up. */
export interface AtsWithAgent {
  dir: string;
  ats: AtsInstance;
  agent: SpawnedAgent;
  certs: DevCerts;
  files: DevCertFiles;
  /** Operator client (closed by stop()). */
  client: AgentClient;
  stop(): Promise<void>;
}

export async function startAtsWithAgent(options: {
  addr: string;
  port?: number;
  agent?: Omit<SpawnAgentOptions, 'certs' | 'atsRunroot' | 'host'>;
  /** More ATS settings (a ticket key file, extra records). */
  ats?: Pick<StartAtsOptions, 'keyFile' | 'extraRecords' | 'kubeletConfigDir'>;
}): Promise<AtsWithAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'tko-agent-e2e-'));
  const certs = await createDevCerts();
  const files = await writeDevCerts(join(dir, 'certs'), certs);
  let ats: AtsInstance | undefined;
  let agent: SpawnedAgent;
  try {
    ats = await startAts({ ...options.ats, dir: join(dir, 'ats'), addr: options.addr, port: options.port });
    // A kubelet-published config directory is the agent's --config-dir, as in a pod.
    const configDir = options.ats?.kubeletConfigDir ? ats.configDir : options.agent?.configDir;
    agent = await spawnAgent({ ...options.agent, ...(configDir ? { configDir } : {}), certs: files, atsRunroot: ats.runroot, host: options.addr });
  } catch (err) {
    await ats?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const client = agent.client();
  return {
    dir,
    ats,
    agent,
    certs,
    files,
    client,
    async stop() {
      await client.close();
      await agent.stop();
      await ats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
