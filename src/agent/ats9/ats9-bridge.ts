// AtsBridge for ATS 9: rings and cache commands go to the ticketkeys_bridge plugin as
// LIFECYCLE_MESSAGEs over traffic_manager's mgmtapi.sock; what ATS holds is read back from the
// plugin's stats with RECORD_GET. No key bytes in argv, no process per push.
//
//   new Ats9Bridge({ socketPath } | { runtimeDir } , { timeoutMs?, logger? })
//   Ats9Bridge.fromRunroot(runroot, options?)   runroot dir (with runroot.yaml) or the yaml file
//
// Session sharing (options.sessionFifo, the plugin loaded with --session-fifo=<same path>):
// openSessionExport(onSessions) / closeSessionExport() read the sessions the plugin exports
// (session-channel.ts); importSessions(batch) hands the plugin sessions to validate and insert:
// one binary message written into the import FIFO when there is one (options.sessionImportFifo,
// the plugin loaded with --session-import-fifo=<same path>; session-import-channel.ts), else a
// SESSIONS_TAG lifecycle message (hex text) relayed by traffic_manager; sessionSharingStats()
// reads the plugin's plugin.ticketkeys.sessions.* stats.
//
// Stats reach traffic_manager on ATS's records sync timers (proxy.config.raw_stat_sync_interval_ms
// + proxy.config.remote_sync_interval_ms, 5 s each by default; the dev launcher sets 100 ms, and
// the plugin then wakes traffic_server's manager thread to pass them on, see the plugin's
// "stats flush"). So readInstalled() lags install() by a few hundred ms: poll until it matches.
// Do not send extra messages to hurry it: every message from traffic_manager restarts
// traffic_server's 1 s idle wait and delays the stats further (measured).
//
// With an ack channel (options.ackFifo, the plugin loaded with --ack-fifo=<same path>), install()
// waits up to ackWaitMs for the plugin's own record of the install and returns it as a receipt
// (or throws AtsRejectedError with the plugin's reason): no stats lag on the push path. Only a
// record matching an install this bridge sent (generation + ring fingerprint + key count) counts.
// Until the stats catch up, readInstalled() reports the acked ring when the stats still show an
// older generation of the same plugin load (so re-assert checks do not undo a fresh push); when
// the stats have not shown it after ackTrustMs the overlay is dropped (counted: unverified) and
// the stats are believed again, so a forged or lost ack is corrected by the re-assert loop.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import type { Logger } from '../../observability/logger.ts';
import { ringFingerprint, ringFingerprintFromStat } from '../../core/fingerprint.ts';
import {
  AtsRejectedError,
  AtsUnavailableError,
  type AckChannelStats,
  type AtsBridge,
  type AtsInstalled,
  type ExportedSession,
  type SessionExportOptions,
  type InstallReceipt,
  type RingInstall,
  type SessionCacheStats,
  type SessionImport,
  type SessionSharingPluginStats,
} from '../ats-bridge.ts';
import { SessionChannel } from './session-channel.ts';
import { SessionImportChannel } from './session-import-channel.ts';
import { AckChannel, type Ack } from './ack-channel.ts';
import type { TlsTicketStats } from '../ats-bridge.ts';
import { TLS_TICKET_RECORDS } from './tls-records.ts';
import { MgmtClient, MgmtRequestError } from './mgmt-client.ts';
import {
  CACHE_TAG,
  encodeFlush,
  encodeRemoveSession,
  encodeRingFrame,
  encodeSessionImport,
  encodeSessionImportMessage,
  FRAME_HEADER_BYTES,
  PLUGIN_STATS,
  PROXY_START_TIME,
  RING_TAG,
  SESSIONS_TAG,
} from './plugin-protocol.ts';

export const MGMT_SOCKET_NAME = 'mgmtapi.sock';
export const RECONFIGURE_TIME_RECORD = 'proxy.node.config.reconfigure_time';

export type Ats9BridgeTarget = { socketPath: string } | { runtimeDir: string };

export interface Ats9BridgeOptions {
  /** Per management request. Default 5000 ms. */
  timeoutMs?: number;
  logger?: Logger;
  /** An opened ack channel (AckChannel.open); the bridge closes it. See also Ats9Bridge.create. */
  ackChannel?: AckChannel;
  /** How long install() waits for the plugin's ack before leaving confirmation to the stats. Default 500 ms. */
  ackWaitMs?: number;
  /** How long an acked ring may be missing from the stats before they are believed again. Default 3000 ms. */
  ackTrustMs?: number;
  /**
   * Session sharing: the FIFO the plugin writes new sessions to (plugin loaded with
   * --session-fifo=<same path>). openSessionExport() creates and reads it; without it the bridge
   * cannot export sessions (importSessions and sessionSharingStats still work).
   */
  sessionFifo?: string;
  /** Mode of the session FIFO when created (default 0o600). */
  sessionFifoMode?: number;
  /**
   * FIFO through which received sessions reach the plugin (plugin.config
   * --session-import-fifo=<same path>) instead of lifecycle messages relayed by traffic_manager.
   */
  sessionImportFifo?: string;
  /** Its mode when created (default 0o600; 0o640 when ATS runs as another user of the agent's group). */
  sessionImportFifoMode?: number;
}

type Ring = Extract<Ack, { kind: 'ring' }>;

interface SentInstall {
  generation: number;
  keyCount: number;
  ringFingerprint: string;
  sentAt: number;
  settle?: (ack: Ring) => void;
}

interface AckOverlay {
  generation: number;
  keyCount: number;
  ringFingerprint: string;
  loadedAt: number;
  at: number;
}

/** Installs remembered for late acks (at most SENT_MAX of them). */
const SENT_MEMORY_MS = 30_000;
const SENT_MAX = 64;
/** After this many installs in a row without an ack, install() stops waiting for one until an ack shows up again. */
const MISSES_BEFORE_NO_WAIT = 3;
/** Session imports check that traffic_server runs at most this often. */
const PROXY_CHECK_INTERVAL_MS = 1000;

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
  /** Ack records written / dropped by the plugin; undefined from a plugin without the ack channel. */
  acksSent: number | undefined;
  acksDropped: number | undefined;
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
  readonly ackChannel: AckChannel | undefined;
  private readonly ackWaitMs: number;
  private readonly ackTrustMs: number;
  private readonly sent: SentInstall[] = [];
  private overlay: AckOverlay | null = null;
  private pluginAcksDropped: number | undefined;
  private missStreak = 0;
  /** When a session import last found traffic_server running (performance.now()). */
  private proxySeenAt = -Infinity;
  /** Acked rings the stats later showed (verified) or never showed within ackTrustMs (unverified). */
  readonly ackVerification = { verified: 0, unverified: 0 };
  readonly sessionFifo: string | undefined;
  private readonly sessionFifoMode: number | undefined;
  /** The open session export reader (openSessionExport), undefined while sharing is off. */
  private sessionChannel: SessionChannel | undefined;
  /** Serialises open/close of the export reader. */
  private sessionExportOp: Promise<unknown> = Promise.resolve();
  /** Where received sessions go when the plugin reads an import FIFO. */
  readonly sessionImportChannel: SessionImportChannel | undefined;

  static async fromRunroot(runroot: string, options: Ats9BridgeOptions & { ackFifo?: string; ackFifoMode?: number } = {}): Promise<Ats9Bridge> {
    return Ats9Bridge.create({ socketPath: await mgmtSocketFromRunroot(runroot) }, options);
  }

  /** The constructor, opening the ack channel at `ackFifo` first (created when missing). */
  static async create(target: Ats9BridgeTarget, options: Ats9BridgeOptions & { ackFifo?: string; ackFifoMode?: number } = {}): Promise<Ats9Bridge> {
    const { ackFifo, ackFifoMode, ...rest } = options;
    const ackChannel = ackFifo === undefined ? undefined : await AckChannel.open(ackFifo, ackFifoMode === undefined ? {} : { mode: ackFifoMode });
    const bridge = new Ats9Bridge(target, { ...rest, ...(ackChannel ? { ackChannel } : {}) });
    // Created now, so the plugin (which looks for it every second) reads it before sessions arrive.
    await bridge.sessionImportChannel?.prepare();
    return bridge;
  }

  constructor(target: Ats9BridgeTarget, options: Ats9BridgeOptions = {}) {
    this.socketPath = 'socketPath' in target ? target.socketPath : join(target.runtimeDir, MGMT_SOCKET_NAME);
    this.mgmt = new MgmtClient({ socketPath: this.socketPath, timeoutMs: options.timeoutMs ?? 5000 });
    this.logger = options.logger;
    this.ackChannel = options.ackChannel;
    this.ackWaitMs = options.ackWaitMs ?? 500;
    this.ackTrustMs = options.ackTrustMs ?? 3000;
    this.sessionFifo = options.sessionFifo;
    this.sessionFifoMode = options.sessionFifoMode;
    this.sessionImportChannel =
      options.sessionImportFifo === undefined
        ? undefined
        : new SessionImportChannel(options.sessionImportFifo, options.sessionImportFifoMode === undefined ? {} : { mode: options.sessionImportFifoMode });
    this.ackChannel?.on('ack', (ack: Ack) => this.onAck(ack));
    let invalidLogged = false;
    this.ackChannel?.on('invalid', (error: string) => {
      // Once: a writer flooding the FIFO must not flood the log. Counted either way.
      if (!invalidLogged) this.logger?.warn('malformed record on the ack channel dropped', { error });
      invalidLogged = true;
    });
  }

  ackChannelStats(): AckChannelStats | undefined {
    if (!this.ackChannel) return undefined;
    return { records: { ...this.ackChannel.counts }, pluginDropped: this.pluginAcksDropped, statsChecks: { ...this.ackVerification } };
  }

  private onAck(ack: Ack): void {
    const ch = this.ackChannel!;
    if (ack.kind !== 'ring') return;
    const now = performance.now();
    while (this.sent.length > 0 && now - this.sent[0]!.sentAt > SENT_MEMORY_MS) this.sent.shift();
    const i = this.sent.findIndex(
      (s) => s.generation === ack.generation && s.ringFingerprint === ack.ringFingerprint && s.keyCount === ack.keyCount,
    );
    if (i === -1) {
      ch.count('unmatched');
      return;
    }
    const s = this.sent[i]!;
    this.sent.splice(i, 1);
    ch.count(s.settle ? 'matched' : 'late');
    this.missStreak = 0;
    if (ack.result === 'installed') {
      this.overlay = { generation: ack.generation, keyCount: ack.keyCount, ringFingerprint: ack.ringFingerprint, loadedAt: ack.loadedAt, at: now };
    }
    s.settle?.(ack);
  }

  /**
   * Sends the ring to the plugin. Resolves once traffic_manager accepted the message for a
   * running traffic_server; the plugin applies it a few ms later (or rejects it: see
   * readStats().rejected). Throws AtsUnavailableError when traffic_server is down, since
   * traffic_manager would silently drop the message. A message that arrives while
   * traffic_server is still starting can still be lost: confirm with readInstalled() and
   * send again if it does not show up.
   */
  /** See installWithReceipt: the same without waiting for the ack (a late one still sets the overlay). */
  async install(ring: RingInstall): Promise<void> {
    await this.send(ring, false);
  }

  /**
   * Sends the ring and, with an ack channel, waits up to ackWaitMs for the plugin's record of it:
   * the receipt when it installed it, AtsRejectedError when it refused it, undefined when no
   * record came (no channel, old plugin, dropped ack): confirm through readInstalled() then.
   */
  installWithReceipt(ring: RingInstall): Promise<InstallReceipt | undefined> {
    return this.send(ring, true);
  }

  private async send(ring: RingInstall, wait: boolean): Promise<InstallReceipt | undefined> {
    const frame = encodeRingFrame({ generation: ring.generation, keys: ring.keys, revoke: ring.revoke, reassert: ring.reassert === true });
    let sent: SentInstall | undefined;
    let acked: Promise<Ring> | undefined;
    try {
      if (this.ackChannel) {
        // Registered before the message goes out: the ack can arrive before the request returns.
        const s: SentInstall = {
          generation: ring.generation,
          keyCount: ring.keys.length,
          ringFingerprint: ringFingerprint(frame.subarray(FRAME_HEADER_BYTES)),
          sentAt: performance.now(),
        };
        acked = new Promise<Ring>((resolve) => (s.settle = resolve));
        while (this.sent.length > 0 && (this.sent.length >= SENT_MAX || s.sentAt - this.sent[0]!.sentAt > SENT_MEMORY_MS)) this.sent.shift();
        this.sent.push((sent = s));
      }
      await this.requireProxy();
      await this.mgmt.lifecycleMessage(RING_TAG, frame);
    } catch (err) {
      if (sent) this.sent.splice(this.sent.indexOf(sent), 1);
      throw err;
    } finally {
      frame.fill(0);
    }
    this.logger?.debug('ring sent to ATS', { generation: ring.generation, keyCount: ring.keys.length, revoke: ring.revoke, reassert: ring.reassert === true });
    if (!sent || !acked) return undefined;
    // A plugin that sends no acks (loaded without --ack-fifo, or an older one) must not cost
    // every push the wait: after a few misses, confirm from the stats at once (a late ack still
    // counts, and resets this).
    if (!wait || this.missStreak >= MISSES_BEFORE_NO_WAIT) {
      delete sent.settle;
      if (wait && this.missStreak++ === MISSES_BEFORE_NO_WAIT) {
        this.logger?.warn('no acks from the plugin on the ack channel: confirming installs from its stats (is it loaded with --ack-fifo?)', {
          ackFifo: this.ackChannel?.path,
        });
      }
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const ack = await Promise.race([acked, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.ackWaitMs)))]);
    clearTimeout(timer);
    // No ack in time: a late one still counts (as 'late') and still sets the overlay.
    delete sent.settle;
    if (!ack) {
      this.missStreak++;
      return undefined;
    }
    if (ack.result === 'rejected') throw new AtsRejectedError(ack.reason ?? 'other', ack.installedGeneration);
    return { generation: ack.generation, keyCount: ack.keyCount, ringFingerprint: ack.ringFingerprint };
  }

  async readInstalled(): Promise<AtsInstalled> {
    const s = this.applyOverlay(await this.readStats());
    return {
      generation: s.generation,
      keyCount: s.keyCount,
      ringFingerprint: s.ringFingerprint,
      rejected: s.rejected,
      startTime: s.startTime,
      ...(s.mlockFailed === undefined ? {} : { mlockFailed: s.mlockFailed }),
    };
  }

  /**
   * Stats lag an acked install by a stats sync: while they still show an older generation of the
   * same plugin load, report the acked ring; drop the overlay once they show it (verified), show
   * something else, come from another load, or have not shown it within ackTrustMs (unverified).
   */
  private applyOverlay(s: PluginStats): PluginStats {
    const o = this.overlay;
    if (!o) return s;
    // Older generation, or the same one with another ring (an acked re-assert): the stats lag.
    if (s.loadedAt === o.loadedAt && (s.generation < o.generation || (s.generation === o.generation && s.ringFingerprint !== o.ringFingerprint))) {
      if (performance.now() - o.at <= this.ackTrustMs) return { ...s, generation: o.generation, keyCount: o.keyCount, ringFingerprint: o.ringFingerprint };
      this.ackVerification.unverified++;
      this.logger?.warn('acked ring not shown by the plugin stats: believing the stats', {
        generation: o.generation,
        ringFingerprint: o.ringFingerprint,
        atsGeneration: s.generation,
      });
    } else if (s.loadedAt === o.loadedAt && s.generation === o.generation && s.ringFingerprint === o.ringFingerprint) {
      this.ackVerification.verified++;
    }
    this.overlay = null;
    return s;
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
      ...(await this.readAckCounters()),
    };
  }

  private async readAckCounters(): Promise<{ acksSent: number | undefined; acksDropped: number | undefined }> {
    const acksSent = await this.readOptionalInt(PLUGIN_STATS.acksSent);
    const acksDropped = acksSent === undefined ? undefined : await this.readOptionalInt(PLUGIN_STATS.acksDropped);
    if (acksDropped !== undefined) this.pluginAcksDropped = acksDropped;
    return { acksSent, acksDropped };
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

  /** ATS's own session-ticket counters (records in tls-records.ts); the agent reads them after readInstalled(). */
  async readTlsTicketStats(): Promise<TlsTicketStats> {
    return {
      ticketsNotFound: Number(await this.mgmt.recordGetInt(TLS_TICKET_RECORDS.ticketsNotFound)),
      ticketsVerifiedOldKey: Number(await this.mgmt.recordGetInt(TLS_TICKET_RECORDS.ticketsVerifiedOldKey)),
    };
  }

  /**
   * Opens the session FIFO's reader (creating the FIFO when missing): the sessions the plugin
   * exports go to onSessions, the sessions of each read together, at most one read every paceMs
   * (session-channel.ts); the consumer zeroes every der after use. Re-opening replaces the callback.
   */
  openSessionExport(onSessions: (sessions: ExportedSession[]) => void, options: SessionExportOptions = {}): Promise<void> {
    const path = this.sessionFifo;
    if (path === undefined) return Promise.reject(new Error('no session FIFO configured: this bridge cannot export sessions'));
    return this.serialiseSessionExport(async () => {
      await this.sessionChannel?.close();
      this.sessionChannel = undefined;
      let invalidLogged = false;
      this.sessionChannel = await SessionChannel.open(path, onSessions, {
        ...(this.sessionFifoMode === undefined ? {} : { mode: this.sessionFifoMode }),
        ...(options.paceMs === undefined ? {} : { paceMs: options.paceMs }),
        onInvalid: (error) => {
          // Once per open: a writer flooding the FIFO must not flood the log. Counted either way.
          if (!invalidLogged) this.logger?.warn('malformed message on the session FIFO dropped', { error });
          invalidLogged = true;
        },
      });
    });
  }

  /** The open reader's pace (a running pause ends at its start plus the new pace). */
  setSessionExportPace(paceMs: number): void {
    if (this.sessionChannel) this.sessionChannel.paceMs = paceMs;
  }

  /** Closes the session FIFO's reader: the plugin then counts new sessions as export_no_reader. */
  closeSessionExport(): Promise<void> {
    return this.serialiseSessionExport(async () => {
      const ch = this.sessionChannel;
      this.sessionChannel = undefined;
      await ch?.close();
    });
  }

  /** Messages and sessions read from the session FIFO (undefined while it is closed). */
  sessionExportCounts(): SessionChannel['counts'] | undefined {
    return this.sessionChannel ? { ...this.sessionChannel.counts } : undefined;
  }

  private serialiseSessionExport(op: () => Promise<void>): Promise<void> {
    const next = this.sessionExportOp.then(op, op);
    this.sessionExportOp = next.catch(() => undefined);
    return next;
  }

  /**
   * Sends sessions another pod made to the plugin (tag SESSIONS_TAG), which validates each one and
   * inserts the valid ones into ATS's cache. Resolves once the message is in the import FIFO's
   * pipe, or once traffic_manager accepted it;
   * the outcome shows in sessionSharingStats() (imported / importRejected).
   */
  async importSessions(batch: SessionImport): Promise<void> {
    const channel = this.sessionImportChannel;
    const payload = channel ? encodeSessionImportMessage(batch) : encodeSessionImport(batch);
    try {
      if (channel) {
        // One write into the pipe the plugin reads: no traffic_manager relay, no liveness check
        // (a traffic_server that is gone fails the write: ENXIO or EPIPE).
        await channel.write(payload);
        return;
      }
      // Under load imports come many times a second: one liveness check per second is enough
      // (sessions sent while traffic_server restarts are lost with its cache anyway).
      if (performance.now() - this.proxySeenAt > PROXY_CHECK_INTERVAL_MS) {
        await this.requireProxy();
        this.proxySeenAt = performance.now();
      }
      await this.mgmt.lifecycleMessage(SESSIONS_TAG, payload);
    } catch (err) {
      this.proxySeenAt = -Infinity;
      throw err;
    } finally {
      payload.fill(0);
    }
    this.logger?.debug('sessions sent to ATS', { count: batch.sessions.length });
  }

  /** The plugin's session-sharing stats; throws when traffic_server is down or the plugin predates them. */
  async sessionSharingStats(): Promise<SessionSharingPluginStats> {
    await this.requireProxy();
    const read = async (name: string): Promise<number> => {
      const v = await this.readOptionalInt(name);
      if (v === undefined) throw new AtsUnavailableError(`${name} is not published: traffic_server starting, or a plugin without session sharing`);
      return v;
    };
    return {
      exported: await read(PLUGIN_STATS.sessionsExported),
      exportUncached: await read(PLUGIN_STATS.sessionsExportUncached),
      exportDropped: await read(PLUGIN_STATS.sessionsExportDropped),
      exportNoReader: await read(PLUGIN_STATS.sessionsExportNoReader),
      imported: await read(PLUGIN_STATS.sessionsImported),
      importRejected: await read(PLUGIN_STATS.sessionsImportRejected),
    };
  }

  async close(): Promise<void> {
    await this.closeSessionExport();
    await this.sessionImportChannel?.close();
    await this.ackChannel?.close();
    await this.mgmt.close();
  }

  private async requireProxy(): Promise<void> {
    if (!(await this.mgmt.proxyRunning())) throw new AtsUnavailableError('traffic_server is not running');
  }
}
