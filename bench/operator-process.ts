// A real `tko operator` process for benchmarks that set operator flags dev/operator-process.ts
// does not expose (e.g. --push-concurrency). Same start-up handshake: resolves once the operator
// printed its `listening` line on stdout.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { DevCertFiles } from '../src/dev/certs.ts';
import { REPO_ROOT } from '../dev/testbed/testbed.ts';

export interface BenchOperator {
  pid: number;
  /** host:port of its /metrics (plain HTTP). */
  metrics: string;
  /** JSON log lines (stderr) so far. */
  logs(): string[];
  stop(): Promise<void>;
}

export async function startBenchOperator(options: {
  kubeconfig: string;
  certs: DevCertFiles;
  namespaces: string[];
  flags: string[];
  /** Node options before the entry (e.g. the heap sizes the chart's container sets). */
  nodeArgs?: string[];
  /** The `tko` CLI to run (default src/cli/main.ts, type-stripped; bench/build.ts compiles one). */
  entry?: string;
}): Promise<BenchOperator> {
  const args = [
    ...(options.nodeArgs ?? []),
    options.entry ?? join(REPO_ROOT, 'src/cli/main.ts'),
    'operator',
    '--kubeconfig', options.kubeconfig,
    `--namespaces=${options.namespaces.join(',')}`,
    '--metrics-addr=127.0.0.1:0',
    '--leader-elect=false',
    '--agent-client-cert', options.certs.operatorCert,
    '--agent-client-key', options.certs.operatorKey,
    '--agent-ca', options.certs.caCert,
    '--log-level', 'warn',
    ...options.flags,
  ];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let errBuf = '';
  child.stderr.on('data', (d: Buffer) => {
    errBuf += d.toString('utf8');
    const parts = errBuf.split('\n');
    errBuf = parts.pop()!;
    if (lines.length < 10_000) lines.push(...parts.filter((l) => l !== ''));
  });
  const metrics = await new Promise<string>((resolve, reject) => {
    let outBuf = '';
    const timer = setTimeout(() => reject(new Error(`tko operator not listening after 60 s:\n${lines.slice(-20).join('\n')}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      outBuf += d.toString('utf8');
      const listening = /"event":"listening","metrics":"([^"]+)"/.exec(outBuf);
      if (listening) {
        clearTimeout(timer);
        resolve(listening[1]!);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`tko operator exited before listening:\n${lines.slice(-20).join('\n')}`));
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    pid: child.pid!,
    metrics,
    logs: () => [...lines],
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
