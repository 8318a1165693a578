// A benchmark's agent fleet spread over child processes (bench/agent-fleet-worker.ts), so that
// tens of thousands of agents are not bound by one process's file limit: the parent learns each
// agent's active key fingerprint as it changes, and the moment the child saw it.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { PemPair } from '../src/dev/certs.ts';
import { REPO_ROOT } from '../dev/testbed/testbed.ts';

export interface FleetPod {
  name: string;
  ip: string;
}

export type FleetCommand =
  | { kind: 'start'; namespace: string; port: number; ca: PemPair; pods: FleetPod[]; reassertIntervalMs: number; reportIntervalMs: number }
  | { kind: 'stop' };

export type FleetReport = { kind: 'ready' } | { kind: 'error'; message: string } | { kind: 'active'; at: number; changes: Array<[number, string]> };

export class AgentFleet {
  /** Active key fingerprint of each pod's agent ('' before its first ring). */
  readonly active: string[];
  /** When (Date.now() in the child) each agent's active fingerprint last changed. */
  readonly changedAt: number[];
  readonly #children: ChildProcess[] = [];

  /** The fleet's processes (for their CPU time). */
  get pids(): number[] {
    return this.#children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  private constructor(size: number) {
    this.active = new Array<string>(size).fill('');
    this.changedAt = new Array<number>(size).fill(0);
  }

  /** Starts `processes` children sharing the pods in contiguous slices; resolves when all listen. */
  static async start(options: { namespace: string; port: number; ca: PemPair; pods: FleetPod[]; processes: number; reassertIntervalMs?: number; reportIntervalMs?: number }): Promise<AgentFleet> {
    const fleet = new AgentFleet(options.pods.length);
    const per = Math.ceil(options.pods.length / options.processes);
    try {
      await Promise.all(
        Array.from({ length: options.processes }, (_, k) => {
          const offset = k * per;
          const pods = options.pods.slice(offset, offset + per);
          if (pods.length === 0) return Promise.resolve();
          const child = fork(join(REPO_ROOT, 'bench', 'agent-fleet-worker.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=8192'] });
          fleet.#children.push(child);
          return new Promise<void>((resolve, reject) => {
            child.on('message', (m: FleetReport) => {
              if (m.kind === 'ready') resolve();
              else if (m.kind === 'error') reject(new Error(`agent fleet: ${m.message}`));
              else
                for (const [i, fp] of m.changes) {
                  fleet.active[offset + i] = fp;
                  fleet.changedAt[offset + i] = m.at;
                }
            });
            child.once('exit', (code) => reject(new Error(`agent fleet process exited (${code}) before it was ready`)));
            const cmd: FleetCommand = {
              kind: 'start',
              namespace: options.namespace,
              port: options.port,
              ca: options.ca,
              pods,
              reassertIntervalMs: options.reassertIntervalMs ?? 30_000,
              reportIntervalMs: options.reportIntervalMs ?? 50,
            };
            child.send(cmd);
          });
        }),
      );
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.send({ kind: 'stop' } satisfies FleetCommand);
          }),
      ),
    );
  }
}
