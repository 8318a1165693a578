// A private Apache Traffic Server 9 instance for development and tests: own runroot under
// `dir`, self-signed certificate, a local origin, the ticketkeys_bridge plugin loaded, ATS's own
// session cache (proxy.config.ssl.session_cache 2), core dumps off. Never for production.
//
//   const ats = await startAts({ dir, addr: '127.0.0.5', port: 18443 });
//   ats.addr, ats.tlsPort         where TLS clients connect (TLS 1.2 and 1.3)
//   ats.certPem                   the self-signed cert (a client's CA to verify ats.addr)
//   ats.runroot                   TS_RUNROOT (dir with runroot.yaml) for traffic_ctl / the agent
//   ats.mgmtSocket                <runtimedir>/mgmtapi.sock (Ats9Bridge target)
//   ats.createBridge()            an Ats9Bridge on this instance (caller closes it)
//   await ats.trafficCtl(['metric', 'get', 'plugin.ticketkeys.generation'])
//   await ats.reloadConfig()      `traffic_ctl config reload`
//   await ats.restart()           traffic_server restarted by traffic_manager (keys are lost)
//   await ats.killProxy()         SIGKILL traffic_server (a crash); traffic_manager relaunches it
//   await ats.stop()              traffic_manager + traffic_server gone, origin closed
//
// startAts()/restart()/killProxy() resolve once traffic_server serves TLS and has published its
// plugin stats (measured: start about 4.5 s, restart 8–10 s). Plugin stats reach RECORD_GET
// about 0.3 s after a push (statSyncMs 100).
import { execFile } from 'node:child_process';
import { cp, mkdir, rm, writeFile, appendFile, access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ats9Bridge } from '../agent/ats9/ats9-bridge.ts';
import { ensurePluginBuilt } from '../ats-plugin/build.ts';
import { createSelfSignedCert } from './ats-cert.ts';
import { publishAsKubeletVolume, updateConfigDir } from './ats-config-dir.ts';
import { atsLayout, configFiles, recordsOverrides, runrootYaml, type AtsLayout } from './ats-config.ts';
import { startOrigin, type Origin } from './ats-origin.ts';
import { findAtsProcesses, killGroupSync, spawnTrafficManager, stopAtsProcesses } from './ats-process.ts';

const run = promisify(execFile);

export const DEFAULT_TLS_PORT = 18443;
const DIST_CONFIG_DIR = '/etc/trafficserver';
/** sun_path is 108 bytes on Linux, NUL included. */
const MAX_SOCKET_PATH = 107;

export interface StartAtsOptions {
  /** Runroot directory (created; generated files from an earlier run are replaced). */
  dir: string;
  /** Loopback address to bind, 127.0.0.N. */
  addr: string;
  /** TLS port on addr. Default 18443. */
  port?: number;
  /** Absolute proxy.config.ssl.server.ticket_key.filename. Leave unset (the robust setup). */
  keyFile?: string;
  /** Plugin .so to load. Default: ensurePluginBuilt(). */
  pluginPath?: string;
  /** plugin.config arguments for it, e.g. [`--ack-fifo=${dir}/run/ticketkeys-acks`]. */
  pluginArgs?: string[];
  /** Stats sync interval in ms (raw + remote). Default 100: read-back within ~200 ms. */
  statSyncMs?: number;
  /** proxy.config.diags.debug.tags, e.g. 'ticketkeys|ssl'. Debug output off by default. */
  debugTags?: string;
  /** More records.config lines ("CONFIG name TYPE value"). */
  extraRecords?: string[];
  /** How long to wait for the instance to come up. Default 30000 ms. */
  startTimeoutMs?: number;
  /**
   * Publish ATS's config directory as kubelet publishes a ConfigMap volume (`..data` swap):
   * AtsInstance.updateConfig then writes a new version, as a ConfigMap edit would.
   */
  kubeletConfigDir?: boolean;
  /**
   * More environment for traffic_manager and traffic_server. ATS lets a variable named after a
   * record (PROXY_CONFIG_HTTP_SERVER_PORTS) override records.config: pods sharing one ConfigMap.
   */
  env?: Record<string, string>;
}

export interface TrafficCtlResult {
  stdout: string;
  stderr: string;
}

export interface AtsInstance {
  readonly addr: string;
  readonly tlsPort: number;
  /** TS_RUNROOT value: the directory holding runroot.yaml. */
  readonly runroot: string;
  readonly runtimeDir: string;
  readonly mgmtSocket: string;
  readonly logDir: string;
  readonly originPort: number;
  readonly certPem: string;
  readonly keyFile: string | undefined;
  /** ATS's config directory (sysconfdir): the agent's --config-dir in a pod. */
  readonly configDir: string;
  /** Changes files of the config directory (null: removes); one `..data` swap when kubelet-published. */
  updateConfig(changes: Record<string, string | Buffer | null>): Promise<void>;
  createBridge(): Ats9Bridge;
  /** traffic_server start time from traffic_manager (epoch seconds). */
  startTime(): Promise<number>;
  trafficCtl(args: string[]): Promise<TrafficCtlResult>;
  reloadConfig(): Promise<void>;
  restart(): Promise<void>;
  killProxy(): Promise<void>;
  stop(): Promise<void>;
  /** pids of this instance's traffic_manager / traffic_server, for diagnostics. */
  pids(): Promise<{ manager: number | undefined; server: number | undefined }>;
}

export async function startAts(options: StartAtsOptions): Promise<AtsInstance> {
  const root = resolve(options.dir);
  const addr = options.addr;
  const tlsPort = options.port ?? DEFAULT_TLS_PORT;
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr)) throw new Error(`addr must be a 127.x.y.z loopback address, got ${addr}`);
  if (options.keyFile !== undefined && !options.keyFile.startsWith('/')) throw new Error('keyFile must be an absolute path');
  const layout = atsLayout(root);
  const mgmtSocket = join(layout.run, 'mgmtapi.sock');
  if (Buffer.byteLength(mgmtSocket) > MAX_SOCKET_PATH) throw new Error(`dir too long for a unix socket path: ${mgmtSocket}`);
  if ((await findAtsProcesses(root)).length > 0) throw new Error(`an ATS instance is already running in ${root}`);

  const [pluginPath, origin] = await Promise.all([options.pluginPath ?? ensurePluginBuilt(), startOrigin(addr)]);
  let managerPid: number | undefined;
  try {
    const cert = await prepareRunroot(layout, {
      layout,
      addr,
      tlsPort,
      originPort: origin.port,
      pluginPath,
      ...(options.pluginArgs ? { pluginArgs: options.pluginArgs } : {}),
      keyFile: options.keyFile,
      statSyncMs: options.statSyncMs ?? 100,
      debugTags: options.debugTags,
      extraRecords: options.extraRecords,
    });
    if (options.kubeletConfigDir) await publishAsKubeletVolume(layout.etc);
    const startTimeoutMs = options.startTimeoutMs ?? 30000;
    managerPid = spawnTrafficManager(root, layout.log, options.env).pid;
    if (managerPid !== undefined) liveManagers.add(managerPid);
    const pid = managerPid;
    const instance = makeInstance({ layout, addr, tlsPort, origin, certPem: cert, keyFile: options.keyFile, mgmtSocket, startTimeoutMs }, {
      getManagerPid: () => pid,
      onStopped: () => {
        if (pid !== undefined) liveManagers.delete(pid);
      },
    });
    await waitReady(instance, startTimeoutMs, 0);
    return instance;
  } catch (err) {
    await stopAtsProcesses(root, managerPid).catch(() => undefined);
    if (managerPid !== undefined) liveManagers.delete(managerPid);
    await origin.close();
    throw err;
  }
}

// A process that exits (a test run that crashes, Ctrl-C on a script) leaves no ATS behind.
const liveManagers = new Set<number>();
process.on('exit', () => {
  for (const pid of liveManagers) killGroupSync(pid);
});

async function prepareRunroot(layout: AtsLayout, config: Parameters<typeof recordsOverrides>[0]): Promise<string> {
  for (const d of [layout.etc, layout.run, layout.log, layout.cache, layout.certs]) await rm(d, { recursive: true, force: true });
  await mkdir(layout.root, { recursive: true });
  await cp(DIST_CONFIG_DIR, layout.etc, { recursive: true });
  await Promise.all([mkdir(layout.run), mkdir(layout.log), mkdir(layout.cache)]);
  await writeFile(join(layout.root, 'runroot.yaml'), runrootYaml(layout));
  await appendFile(join(layout.etc, 'records.config'), recordsOverrides(config));
  for (const [name, text] of Object.entries(configFiles(config))) await writeFile(join(layout.etc, name), text);
  const cert = await createSelfSignedCert(layout.certs, config.addr);
  return cert.certPem;
}

interface InstanceParts {
  layout: AtsLayout;
  addr: string;
  tlsPort: number;
  origin: Origin;
  certPem: string;
  keyFile: string | undefined;
  mgmtSocket: string;
  startTimeoutMs: number;
}

function makeInstance(
  p: InstanceParts,
  hooks: { getManagerPid: () => number | undefined; onStopped: () => void },
): AtsInstance {
  const root = p.layout.root;
  const env = { ...process.env, TS_RUNROOT: root };
  let stopped = false;

  const instance: AtsInstance = {
    addr: p.addr,
    tlsPort: p.tlsPort,
    runroot: root,
    runtimeDir: p.layout.run,
    mgmtSocket: p.mgmtSocket,
    logDir: p.layout.log,
    originPort: p.origin.port,
    certPem: p.certPem,
    keyFile: p.keyFile,
    configDir: p.layout.etc,
    updateConfig: (changes) => updateConfigDir(p.layout.etc, changes),
    createBridge: () => new Ats9Bridge({ socketPath: p.mgmtSocket }, { timeoutMs: 5000 }),
    async startTime() {
      const b = instance.createBridge();
      try {
        return (await b.readStats()).startTime;
      } finally {
        await b.close();
      }
    },
    async trafficCtl(args) {
      const { stdout, stderr } = await run('traffic_ctl', args, { env, timeout: 30000 });
      return { stdout, stderr };
    },
    async reloadConfig() {
      await instance.trafficCtl(['config', 'reload']);
    },
    async restart() {
      const before = await instance.startTime();
      await instance.trafficCtl(['server', 'restart']);
      await waitReady(instance, p.startTimeoutMs, before);
    },
    async killProxy() {
      const before = await instance.startTime();
      const { server } = await instance.pids();
      if (server === undefined) throw new Error('traffic_server is not running');
      process.kill(server, 'SIGKILL');
      await waitReady(instance, p.startTimeoutMs, before);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await stopAtsProcesses(root, hooks.getManagerPid());
      } finally {
        hooks.onStopped();
        await p.origin.close();
      }
    },
    async pids() {
      const procs = await findAtsProcesses(root);
      const byExe = (name: string) => procs.find((x) => x.exe.endsWith(name) || x.comm === name)?.pid;
      return { manager: byExe('traffic_manager'), server: byExe('traffic_server') };
    },
  };
  return instance;
}

/**
 * Ready = traffic_server running with a start time newer than `previousStart`, plugin stats
 * published by this traffic_server, and a TLS handshake on the port succeeds.
 */
async function waitReady(instance: AtsInstance, timeoutMs: number, previousStart: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  const bridge = instance.createBridge();
  try {
    while (Date.now() < deadline) {
      try {
        await access(instance.mgmtSocket);
        const stats = await bridge.readStats();
        if (stats.startTime > previousStart) {
          await tlsHandshake(instance.addr, instance.tlsPort);
          return;
        }
        last = new Error('traffic_server has not restarted yet');
      } catch (err) {
        last = err;
      }
      await sleep(100);
    }
  } finally {
    await bridge.close();
  }
  throw new Error(`ATS in ${instance.runroot} not ready after ${timeoutMs} ms: ${String(last)} (logs: ${instance.logDir})`);
}

function tlsHandshake(host: string, port: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const s = tlsConnect({ host, port, rejectUnauthorized: false, timeout: 2000 }, () => {
      s.destroy();
      resolvePromise();
    });
    s.once('error', reject);
    s.once('timeout', () => {
      s.destroy();
      reject(new Error('TLS handshake timed out'));
    });
  });
}
