// Spawns a real `tko operator` process (node running src/cli/main.ts) against the test bed, as
// a Deployment replica would run, and stops it politely (SIGTERM: releases its Lease) or kills
// it (SIGKILL: nothing released, nothing flushed).
//
//   const op = await spawnOperator({ certs, namespaces: [ns], leaderElect: false });
//   op.metricsUrl            http://127.0.0.1:PORT (/metrics, /healthz, /readyz)
//   op.logs()                JSON log lines so far (stderr)
//   await op.kill()          SIGKILL, waits for the exit
//   await op.exited          { code, signal } (e.g. after a TKO_FAULT hard exit)
//   await op.stop()          SIGTERM, waits for the exit
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DevCertFiles } from '../src/dev/certs.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface SpawnOperatorOptions {
  /** The agent TLS files; or agentPki. */
  certs?: DevCertFiles;
  /** --agent-pki-secret and its lifetimes (durations as the CLI takes them). */
  agentPki?: { secret: string; caValidity?: string; certValidity?: string; propagation?: string; interval?: string };
  namespaces: string[];
  /** Default false (one replica); with true give `lease`. */
  leaderElect?: boolean;
  lease?: { namespace: string; name: string; durationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  identity?: string;
  /** e.g. { TKO_FAULT: 'exit-after-persist' } */
  env?: Record<string, string>;
  resyncPeriod?: string;
  agentTimeout?: string;
  /** --config-rollout-bound (default the operator's, 3m). */
  configRolloutBound?: string;
  /** --agent-tls-reload-interval (default the operator's, 5s). */
  agentTlsReloadInterval?: string;
  logLevel?: string;
  /** Kubeconfig file of the operator's identity (default: the test bed admin's, TKO_TEST_KUBECONFIG). */
  kubeconfig?: string;
  /** Resolve before the metrics listener is up (a fault may kill the process early). Default false. */
  startTimeoutMs?: number;
}

export interface SpawnedOperator {
  pid: number;
  metricsUrl: string;
  logs(): string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

function kubeconfigPath(): string {
  const path = process.env.TKO_TEST_KUBECONFIG;
  if (!path) throw new Error('TKO_TEST_KUBECONFIG is not set: run through a jest project with the test bed');
  return path;
}

const ms = (n: number) => `${n}ms`;

export async function spawnOperator(options: SpawnOperatorOptions): Promise<SpawnedOperator> {
  const args = [
    join(REPO, 'src/cli/main.ts'),
    'operator',
    '--kubeconfig', options.kubeconfig ?? kubeconfigPath(),
    `--namespaces=${options.namespaces.join(',')}`,
    '--metrics-addr=127.0.0.1:0',
    `--leader-elect=${options.leaderElect ? 'true' : 'false'}`,
    '--agent-timeout', options.agentTimeout ?? '3s',
    '--resync-period', options.resyncPeriod ?? '5s',
    '--log-level', options.logLevel ?? 'info',
  ];
  if (options.certs) args.push('--agent-client-cert', options.certs.operatorCert, '--agent-client-key', options.certs.operatorKey, '--agent-ca', options.certs.caCert);
  if (options.agentPki) {
    const p = options.agentPki;
    args.push('--agent-pki-secret', p.secret);
    if (p.caValidity) args.push('--agent-pki-ca-validity', p.caValidity);
    if (p.certValidity) args.push('--agent-pki-cert-validity', p.certValidity);
    if (p.propagation) args.push('--agent-pki-propagation', p.propagation);
    if (p.interval) args.push('--agent-pki-interval', p.interval);
  }
  if (options.identity) args.push('--identity', options.identity);
  if (options.configRolloutBound) args.push('--config-rollout-bound', options.configRolloutBound);
  if (options.agentTlsReloadInterval) args.push('--agent-tls-reload-interval', options.agentTlsReloadInterval);
  if (options.lease) {
    const l = options.lease;
    args.push('--leader-election-namespace', l.namespace, '--leader-election-lease', l.name);
    if (l.durationMs) args.push('--leader-election-lease-duration', ms(l.durationMs));
    if (l.renewDeadlineMs) args.push('--leader-election-renew-deadline', ms(l.renewDeadlineMs));
    if (l.retryPeriodMs) args.push('--leader-election-retry-period', ms(l.retryPeriodMs));
  }
  const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    }),
  );
  eachLine(child.stderr!, (l) => lines.push(l));
  const listening = new Promise<string>((resolve, reject) => {
    eachLine(child.stdout!, (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; metrics?: string };
        if (msg.event === 'listening' && msg.metrics) resolve(msg.metrics);
      } catch {
        // not ours
      }
    });
    void exited.then((e) => reject(new Error(`tko operator exited (${e.code ?? e.signal}) before listening:\n${lines.slice(-30).join('\n')}`)));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`tko operator not listening:\n${lines.join('\n')}`)), options.startTimeoutMs ?? 30_000);
  });
  let addr: string;
  try {
    addr = await Promise.race([listening, timeout]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const signalAndWait = async (signal: NodeJS.Signals) => {
    if (!running) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  return {
    pid: child.pid!,
    metricsUrl: `http://${addr}`,
    logs: () => [...lines],
    exited,
    isRunning: () => running,
    kill: () => signalAndWait('SIGKILL'),
    stop: () => signalAndWait('SIGTERM'),
  };
}

function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = '';
  stream.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line !== '') onLine(line);
    }
  });
}
