// A fleet of test "pods": each is a Pod object in the test bed (status written by FakePods,
// playing the kubelet) whose IP is a loopback address 127.0.0.N, plus a real `tko agent`
// process listening on N:port, as the agent sidecar would in the pod. With `ats: true` the pod
// also runs a real ATS (bridge plugin loaded) on N:tlsPort and the agent installs into it;
// otherwise the agent uses `--installer memory` (scenarios that are not about ATS). Every pod's
// agent serves its own certificate, whose URI SAN names that pod (docs/agent.md, trust model).
//
//   const fleet = await Fleet.create({ kc, namespace, port: 19443 });
//   await fleet.add('ats-0', { ip: '127.0.0.110', labels: { app: 'ats' } });
//   await fleet.stopAgent('ats-0'); await fleet.startAgent('ats-0');
//   fleet.files                 dev certificate files (the operator's client cert among them)
//   await fleet.agentCertFor('ats-0')                 that pod's agent certificate and key (PEM)
//   await fleet.startAgent('ats-1', { certOf: 'ats-0' })   an agent impersonating another pod
//   Fleet.create({ ..., trust: other })               same CA and operator certificate as `other`
//   await fleet.add('ats-0', { ..., ats: true, configDir: true })   ATS's config dir published as a
//       ConfigMap volume and watched by the agent (--config-dir); edit it as kubelet would with
//       fleet.get('ats-0').ats!.updateConfig({...}) or atomicWrite(ats.configDir, payload)
//   await fleet.add('ats-0', { ..., ats: true, sessionSharing: true })   ATS loads the plugin with
//       --session-fifo=<runroot>/run/ticketkeys-sessions (the agent reads it, --session-fifo) and
//       --session-import-fifo=<runroot>/run/ticketkeys-session-imports (the agent writes it,
//       --session-import-fifo): the pod can share TLS sessions once the operator enables it
//   await fleet.close()         agents and ATS instances stopped, temp dir removed
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { AgentClient } from '../src/agent/client.ts';
import { acceptedAgentIdentities } from '../src/agent/identity.ts';
import { SESSION_FIFO_OPTION, SESSION_IMPORT_FIFO_OPTION } from '../src/contract/plugin-wire.ts';
import { startAts, type AtsInstance, type StartAtsOptions } from '../src/dev/ats.ts';
import { atsLayout } from '../src/dev/ats-config.ts';
import { createDevCerts, issueAgentCert, writeDevCerts, type DevCertFiles, type DevCerts, type PemPair } from '../src/dev/certs.ts';
import { describeError } from '../src/observability/describe-error.ts';
import { spawnAgent, type SpawnAgentOptions, type SpawnedAgent } from './agent-process.ts';
import { FakePods } from './fake-pods.ts';

export interface FleetPodOptions {
  ip: string;
  labels: Record<string, string>;
  /** Run a real ATS in the pod (default false: the agent's memory installer). */
  ats?: boolean;
  /** ATS TLS port on ip (default 18443). */
  tlsPort?: number;
  readinessGates?: string[];
  containersReady?: boolean;
  /** Start the agent right away (default true). */
  startAgent?: boolean;
  /** The agent listens here instead of ip (e.g. behind a fault proxy that listens on ip). */
  agentHost?: string;
  /**
   * With ats: ATS's config directory is published as kubelet publishes a ConfigMap volume
   * (`..data` swap) and the agent reloads it (--config-dir, debounce CONFIG_DEBOUNCE_MS).
   */
  configDir?: boolean;
  /** More startAts settings (keyFile, extraRecords, env…); dir, addr and port are the fleet's. */
  atsOptions?: Partial<StartAtsOptions>;
  /**
   * With ats: the plugin exports new TLS sessions to a FIFO in ATS's runtime dir
   * (SESSION_FIFO_NAME) that the agent creates and reads (--session-fifo), and reads the sessions
   * of other pods from one the agent creates and writes (SESSION_IMPORT_FIFO_NAME,
   * --session-import-fifo), as the pod's session-sharing set-up does. Whether sessions are shared
   * is the operator's call.
   */
  sessionSharing?: boolean;
}

/** The session FIFO's name in ATS's runtime directory (plugin.config and the agent name the same path). */
export const SESSION_FIFO_NAME = 'ticketkeys-sessions';

/** The session import FIFO's name in ATS's runtime directory. */
export const SESSION_IMPORT_FIFO_NAME = 'ticketkeys-session-imports';

/** The session FIFO of the ATS instance whose runroot directory is `atsDir`. */
export function sessionFifoPath(atsDir: string): string {
  return join(atsLayout(atsDir).run, SESSION_FIFO_NAME);
}

/** The session import FIFO of the ATS instance whose runroot directory is `atsDir`. */
export function sessionImportFifoPath(atsDir: string): string {
  return join(atsLayout(atsDir).run, SESSION_IMPORT_FIFO_NAME);
}

/** The agents' --config-debounce-ms with configDir: short, but one kubelet swap is one reload. */
export const CONFIG_DEBOUNCE_MS = 300;

/** How the fleet's agent processes run: the CLI entry (default src/cli/main.ts), Node flags, environment, log level. */
export type FleetAgentProcess = Pick<SpawnAgentOptions, 'entry' | 'env' | 'nodeArgs' | 'logLevel'>;

export interface FleetPod {
  name: string;
  ip: string;
  options: FleetPodOptions;
  ats?: AtsInstance;
  /** The running agent process (spawnAgent on ip:port; its logs() are the JSON log lines). */
  agent?: SpawnedAgent;
}

export class Fleet {
  readonly pods: FakePods;
  readonly files: DevCertFiles;
  readonly port: number;
  /** The CA (issues the pods' agent certificates) and the operator's certificate. */
  readonly certs: DevCerts;
  private readonly dir: string;
  private readonly members = new Map<string, FleetPod>();
  private readonly clients: AgentClient[] = [];
  private readonly agentCerts = new Map<string, Promise<PemPair>>();
  private readonly agentProcess: FleetAgentProcess;

  private constructor(pods: FakePods, certs: DevCerts, files: DevCertFiles, dir: string, port: number, agentProcess: FleetAgentProcess) {
    this.pods = pods;
    this.certs = certs;
    this.files = files;
    this.dir = dir;
    this.port = port;
    this.agentProcess = agentProcess;
  }

  /**
   * `trust`: share another fleet's CA and operator certificate (one operator serving both).
   * `agentProcess`: how every agent process runs (a bench runs the bundle as the image does).
   */
  static async create(options: { kc: KubeConfig; namespace: string; port: number; trust?: Fleet; agentProcess?: FleetAgentProcess }): Promise<Fleet> {
    const dir = await mkdtemp(join(tmpdir(), 'tko-fleet-'));
    const certs = options.trust?.certs ?? (await createDevCerts({ agent: { namespace: options.namespace, serviceAccount: 'default' } }));
    const files = await writeDevCerts(join(dir, 'certs'), certs);
    return new Fleet(new FakePods(options.kc, options.namespace), certs, files, dir, options.port, options.agentProcess ?? {});
  }

  /** The agent certificate of pod `podName` (URI SAN …/ns/<namespace>/pod/<podName>), issued once. */
  agentCertFor(podName: string): Promise<PemPair> {
    let pair = this.agentCerts.get(podName);
    if (!pair) {
      pair = issueAgentCert(this.certs.ca, { namespace: this.pods.namespace, pod: podName });
      this.agentCerts.set(podName, pair);
    }
    return pair;
  }

  /** The certificate files an agent serving `podName`'s certificate reads. */
  private async agentCertFiles(podName: string): Promise<DevCertFiles> {
    const pair = await this.agentCertFor(podName);
    const dir = join(this.dir, 'certs', 'pods');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const agentCert = join(dir, `${podName}.crt`);
    const agentKey = join(dir, `${podName}.key`);
    await writeFile(agentCert, pair.cert, { mode: 0o644 });
    await writeFile(agentKey, pair.key, { mode: 0o600 });
    return { ...this.files, agentCert, agentKey };
  }

  get(name: string): FleetPod {
    const m = this.members.get(name);
    if (!m) throw new Error(`no fleet pod ${name}`);
    return m;
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  /** Starts ATS (if asked), then the Pod object, then the agent (unless startAgent: false). */
  async add(name: string, options: FleetPodOptions): Promise<V1Pod> {
    const member: FleetPod = { name, ip: options.ip, options };
    this.members.set(name, member);
    if (options.ats) {
      const dir = join(this.dir, `ats-${name}`);
      const sharing = options.sessionSharing ? [`${SESSION_FIFO_OPTION}=${sessionFifoPath(dir)}`, `${SESSION_IMPORT_FIFO_OPTION}=${sessionImportFifoPath(dir)}`] : [];
      const pluginArgs = [...(options.atsOptions?.pluginArgs ?? []), ...sharing];
      member.ats = await startAts({
        ...options.atsOptions,
        ...(options.configDir ? { kubeletConfigDir: true } : {}),
        ...(pluginArgs.length > 0 ? { pluginArgs } : {}),
        dir,
        addr: options.ip,
        port: options.tlsPort ?? 18443,
      });
    }
    const pod = await this.pods.create({
      name,
      ip: options.ip,
      labels: options.labels,
      ...(options.readinessGates ? { readinessGates: options.readinessGates } : {}),
      ...(options.containersReady !== undefined ? { containersReady: options.containersReady } : {}),
    });
    if (options.startAgent ?? true) await this.startAgent(name);
    return pod;
  }

  /**
   * Starts the pod's agent process on ip:port (a fresh process: it holds no ring yet), serving
   * the pod's own certificate, or pod `certOf`'s (an agent impersonating another pod).
   */
  async startAgent(name: string, options: { certOf?: string } = {}): Promise<void> {
    const m = this.get(name);
    if (m.agent) throw new Error(`agent of ${name} already runs`);
    m.agent = await spawnAgent({
      logLevel: 'warn',
      ...this.agentProcess,
      certs: await this.agentCertFiles(options.certOf ?? name),
      host: m.options.agentHost ?? m.ip,
      port: this.port,
      installer: m.ats ? 'ats' : 'memory',
      ...(m.ats ? { atsRunroot: m.ats.runroot } : {}),
      ...(m.ats && m.options.configDir ? { configDir: m.ats.configDir, configDebounceMs: CONFIG_DEBOUNCE_MS } : {}),
      ...(m.ats && m.options.sessionSharing
        ? { sessionFifo: join(m.ats.runtimeDir, SESSION_FIFO_NAME), sessionImportFifo: join(m.ats.runtimeDir, SESSION_IMPORT_FIFO_NAME) }
        : {}),
    });
  }

  /** Stops the pod's agent (SIGTERM): its API becomes unreachable; ATS keeps what it holds. */
  async stopAgent(name: string): Promise<void> {
    const m = this.get(name);
    const agent = m.agent;
    if (!agent) return;
    m.agent = undefined;
    await agent.stop();
  }

  /** An mTLS client for the pod's agent, as the operator: it accepts only that pod's identity (closed by close()). */
  client(name: string): AgentClient {
    const m = this.get(name);
    const c = new AgentClient({
      baseUrl: `https://${m.ip}:${this.port}`,
      tls: {
        ca: readFileSync(this.files.caCert),
        cert: readFileSync(this.files.operatorCert),
        key: readFileSync(this.files.operatorKey),
        agentIdentities: acceptedAgentIdentities({ namespace: this.pods.namespace, name }),
      },
      timeoutMs: 5000,
    });
    this.clients.push(c);
    return c;
  }

  /** Closes clients, agents and ATS instances; a client or ATS that fails to stop is reported on stderr, the rest still go. */
  async close(): Promise<void> {
    for (const c of this.clients) await c.close().catch((err: unknown) => warnCleanup(`closing the agent client for ${c.baseUrl}`, err));
    for (const name of this.members.keys()) await this.stopAgent(name);
    for (const [name, m] of this.members) await m.ats?.stop().catch((err: unknown) => warnCleanup(`stopping ATS of ${name}`, err));
    await rm(this.dir, { recursive: true, force: true });
  }
}

function warnCleanup(what: string, err: unknown): void {
  process.stderr.write(`fleet: ${what} failed: ${describeError(err)}\n`);
}
