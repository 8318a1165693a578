// AtsBridge for ATS 9: rings and cache commands go to the ticketkeys_bridge plugin as
// LIFECYCLE_MESSAGEs over traffic_manager's mgmtapi.sock; what ATS holds is read back from the
// plugin's stats with RECORD_GET. No key bytes in argv, no process per push.
//
//   new Ats9Bridge({ socketPath } | { runtimeDir } , { timeoutMs?, logger? })
//   Ats9Bridge.fromRunroot(runroot, options?)   runroot dir (with runroot.yaml) or the yaml file
//
// Stats reach traffic_manager on ATS's records sync timers (proxy.config.raw_stat_sync_interval_ms
// + proxy.config.remote_sync_interval_ms, 5 s each by default; the dev launcher sets 100 ms, and
// the plugin then wakes traffic_server's manager thread to pass them on, see the plugin's
// "stats flush"). So readInstalled() lags install() by a few hundred ms: poll until it matches.
// Do not send extra messages to hurry it: every message from traffic_manager restarts
// traffic_server's 1 s idle wait and delays the stats further (measured).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import type { Logger } from '../../observability/logger.ts';
import { ringFingerprintFromStat } from '../../core/fingerprint.ts';
import { AtsUnavailableError, type AtsBridge, type AtsInstalled, type RingInstall, type SessionCacheStats } from '../ats-bridge.ts';
import { MgmtClient, MgmtRequestError } from './mgmt-client.ts';
import {
  CACHE_TAG,
  encodeFlush,
  encodeRemoveSession,
  encodeRingFrame,
  PLUGIN_STATS,
  PROXY_START_TIME,
  RING_TAG,
} from './plugin-protocol.ts';

export const MGMT_SOCKET_NAME = 'mgmtapi.sock';
export const RECONFIGURE_TIME_RECORD = 'proxy.node.config.reconfigure_time';

export type Ats9BridgeTarget = { socketPath: string } | { runtimeDir: string };

export interface Ats9BridgeOptions {
  /** Per management request. Default 5000 ms. */
  timeoutMs?: number;
  logger?: Logger;
}

/** Every plugin counter, for tests and metrics (AtsInstalled/SessionCacheStats are the contract). */
export interface PluginStats {
  generation: number;
  keyCount: number;
  ringFingerprint: string;
  installs: number;
  rejected: number;
  reapplies: number;
  cacheTracked: number;
  cacheRemoved: number;
  cacheFlushes: number;
  cacheOverflows: number;
  /** Undefined from a plugin that does not publish it. */
  cacheHits: number | undefined;
  /** When the plugin was loaded into the current traffic_server (epoch seconds). */
  loadedAt: number;
  /** traffic_server start time according to traffic_manager (epoch seconds). */
  startTime: number;
  /** The plugin's key store is not mlock'd; undefined from a plugin that does not publish it. */
  mlockFailed: boolean | undefined;
}

/** The mgmtapi.sock of a runroot: reads runtimedir from its runroot.yaml. */
export async function mgmtSocketFromRunroot(runroot: string): Promise<string> {
  const file = (await stat(runroot)).isDirectory() ? join(runroot, 'runroot.yaml') : runroot;
  const doc = YAML.parse(await readFile(file, 'utf8')) as Record<string, unknown> | null;
  const runtimedir = doc?.runtimedir;
  if (typeof runtimedir !== 'string' || runtimedir === '') throw new Error(`${file} has no runtimedir`);
  return join(runtimedir, MGMT_SOCKET_NAME);
}

export class Ats9Bridge implements AtsBridge {
  readonly socketPath: string;
  private readonly mgmt: MgmtClient;
  private readonly logger: Logger | undefined;

  static async fromRunroot(runroot: string, options: Ats9BridgeOptions = {}): Promise<Ats9Bridge> {
    return new Ats9Bridge({ socketPath: await mgmtSocketFromRunroot(runroot) }, options);
  }

  constructor(target: Ats9BridgeTarget, options: Ats9BridgeOptions = {}) {
    this.socketPath = 'socketPath' in target ? target.socketPath : join(target.runtimeDir, MGMT_SOCKET_NAME);
    this.mgmt = new MgmtClient({ socketPath: this.socketPath, timeoutMs: options.timeoutMs ?? 5000 });
    this.logger = options.logger;
  }

  /**
   * Sends the ring to the plugin. Resolves once traffic_manager accepted the message for a
   * running traffic_server; the plugin applies it a few ms later (or rejects it: see
   * readStats().rejected). Throws AtsUnavailableError when traffic_server is down, since
   * traffic_manager would silently drop the message. A message that arrives while
   * traffic_server is still starting can still be lost: confirm with readInstalled() and
   * send again if it does not show up.
   */
  async install(ring: RingInstall): Promise<void> {
    const frame = encodeRingFrame({ generation: ring.generation, keys: ring.keys, revoke: ring.revoke, reassert: ring.reassert === true });
    try {
      await this.requireProxy();
      await this.mgmt.lifecycleMessage(RING_TAG, frame);
    } finally {
      frame.fill(0);
    }
    this.logger?.debug('ring sent to ATS', { generation: ring.generation, keyCount: ring.keys.length, revoke: ring.revoke, reassert: ring.reassert === true });
  }

  async readInstalled(): Promise<AtsInstalled> {
    const s = await this.readStats();
    return {
      generation: s.generation,
      keyCount: s.keyCount,
      ringFingerprint: s.ringFingerprint,
      rejected: s.rejected,
      startTime: s.startTime,
      ...(s.mlockFailed === undefined ? {} : { mlockFailed: s.mlockFailed }),
    };
  }

  async flushSessionCache(): Promise<void> {
    await this.requireProxy();
    await this.mgmt.lifecycleMessage(CACHE_TAG, encodeFlush());
  }

  async removeSession(idHex: string): Promise<void> {
    const payload = encodeRemoveSession(idHex);
    await this.requireProxy();
    await this.mgmt.lifecycleMessage(CACHE_TAG, payload);
  }

  async sessionCacheStats(): Promise<SessionCacheStats> {
    const s = await this.readStats();
    return {
      tracked: s.cacheTracked,
      removed: s.cacheRemoved,
      flushes: s.cacheFlushes,
      ...(s.cacheHits === undefined ? {} : { hits: s.cacheHits }),
    };
  }

  /**
   * All plugin stats of the running traffic_server. Throws AtsUnavailableError while
   * traffic_server is down, or when the stats traffic_manager holds still come from a previous
   * traffic_server (right after a restart, until the new one has synced its stats).
   */
  async readStats(): Promise<PluginStats> {
    await this.requireProxy();
    const startTime = Number(await this.mgmt.recordGetInt(PROXY_START_TIME));
    const read = async (name: string): Promise<bigint> => {
      try {
        return await this.mgmt.recordGetInt(name);
      } catch (err) {
        if (err instanceof MgmtRequestError) {
          throw new AtsUnavailableError(`${name} is not published: traffic_server starting, or ticketkeys_bridge.so not loaded`, {
            cause: err,
          });
        }
        throw err;
      }
    };
    const loadedAt = Number(await read(PLUGIN_STATS.loadedAt));
    if (loadedAt < startTime) {
      throw new AtsUnavailableError('traffic_server restarted and has not published its plugin stats yet');
    }
    const generation = await read(PLUGIN_STATS.generation);
    const fp = await read(PLUGIN_STATS.ringFingerprint);
    const n = async (name: string) => Number(await read(name));
    // Each record is a separate request and ATS syncs stats between them, so a record read later
    // is at least as new as one read earlier: the counters a caller waits on (generation, flushes)
    // come before the values that must match them (fingerprint, tracked sessions).
    const cacheFlushes = await n(PLUGIN_STATS.cacheFlushes);
    return {
      generation: Number(generation),
      keyCount: await n(PLUGIN_STATS.keyCount),
      ringFingerprint: generation === 0n ? '' : ringFingerprintFromStat(fp),
      installs: await n(PLUGIN_STATS.installs),
      rejected: await n(PLUGIN_STATS.rejected),
      reapplies: await n(PLUGIN_STATS.reapplies),
      cacheFlushes,
      cacheTracked: await n(PLUGIN_STATS.cacheTracked),
      cacheRemoved: await n(PLUGIN_STATS.cacheRemoved),
      cacheOverflows: await n(PLUGIN_STATS.cacheOverflows),
      cacheHits: await this.readOptionalInt(PLUGIN_STATS.cacheHits),
      loadedAt,
      startTime,
      mlockFailed: await this.readMlockFailed(),
    };
  }

  /** Optional: a plugin older than this stat still serves rings, so its absence is no outage. */
  private async readMlockFailed(): Promise<boolean | undefined> {
    try {
      return (await this.mgmt.recordGetInt(PLUGIN_STATS.mlockFailed)) !== 0n;
    } catch (err) {
      if (err instanceof MgmtRequestError) return undefined;
      throw err;
    }
  }

  /** A stat newer plugins publish: undefined from an older one rather than an outage. */
  private async readOptionalInt(name: string): Promise<number | undefined> {
    try {
      return Number(await this.mgmt.recordGetInt(name));
    } catch (err) {
      if (err instanceof MgmtRequestError) return undefined;
      throw err;
    }
  }

  /** Is traffic_server up (traffic_manager's view)? AtsUnavailableError if traffic_manager is not. */
  proxyRunning(): Promise<boolean> {
    return this.mgmt.proxyRunning();
  }

  /** `traffic_ctl config reload` over the socket. */
  reloadConfig(): Promise<void> {
    return this.mgmt.reconfigure();
  }

  /** Set by traffic_manager on every reconfigure, whoever asked for it. */
  async readReconfigureTime(): Promise<number> {
    return Number(await this.mgmt.recordGetInt(RECONFIGURE_TIME_RECORD));
  }

  close(): Promise<void> {
    return this.mgmt.close();
  }

  private async requireProxy(): Promise<void> {
    if (!(await this.mgmt.proxyRunning())) throw new AtsUnavailableError('traffic_server is not running');
  }
}
