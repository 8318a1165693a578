// Keeps key delivery and ATS configuration reloads in agreement. A reload (asked for by the
// agent after the mounted config directory changed, or by anyone else: traffic_ctl, another
// sidecar, seen from ATS's reconfigure time) can load file keys over the pushed ring; after
// each one the agent watches the plugin stats for a short settle period, measures how long ATS
// was seen holding anything but the accepted ring, and re-installs the accepted ring through
// the RingKeeper (which never rolls back a newer generation) if ATS still does not hold it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../observability/logger.ts';
import type { AtsBridge } from './ats-bridge.ts';
import type { AgentMetrics } from './metrics.ts';
import type { LastReload, ReloadTrigger } from './protocol.ts';
import type { RingKeeper } from './ring-keeper.ts';
import { Serial } from './serial.ts';

/** How long after a reload the ring is watched before the agent steps in. */
export const DEFAULT_RELOAD_SETTLE_MS = 1000;
export const DEFAULT_RELOAD_POLL_MS = 10;

export interface ConfigReloadCoordinatorOptions {
  bridge: AtsBridge;
  keeper: RingKeeper;
  metrics: AgentMetrics;
  logger: Logger;
  settleMs?: number;
  pollMs?: number;
}

/** What GET /v1/ring adds about configuration (both fields optional on the wire). */
export interface ConfigReloadReport {
  configHash?: string;
  lastReload?: LastReload;
}

export class ConfigReloadCoordinator {
  readonly #bridge: AtsBridge;
  readonly #keeper: RingKeeper;
  readonly #metrics: AgentMetrics;
  readonly #log: Logger;
  readonly #settleMs: number;
  readonly #pollMs: number;
  /** Reloads and external checks run one at a time: a reload's own time change is not external. */
  readonly #serial = new Serial();
  #configHash: string | undefined;
  #lastReload: LastReload | undefined;
  /** Last reconfigure time seen; undefined until first read (the baseline is not a reload). */
  #reconfigureTime: number | undefined;

  constructor(options: ConfigReloadCoordinatorOptions) {
    this.#bridge = options.bridge;
    this.#keeper = options.keeper;
    this.#metrics = options.metrics;
    this.#log = options.logger;
    this.#settleMs = options.settleMs ?? DEFAULT_RELOAD_SETTLE_MS;
    this.#pollMs = options.pollMs ?? DEFAULT_RELOAD_POLL_MS;
  }

  report(): ConfigReloadReport {
    return {
      ...(this.#configHash === undefined ? {} : { configHash: this.#configHash }),
      ...(this.#lastReload === undefined ? {} : { lastReload: { ...this.#lastReload } }),
    };
  }

  /** The directory ATS started with: recorded, not reloaded (ATS already read it). */
  adoptInitial(hash: string): void {
    this.#configHash = hash;
  }

  /** Bad directory contents: logged and counted, never a reload, never a stop of key delivery. */
  recordProblem(path: string, problem: string): void {
    this.#metrics.configProblems.inc();
    this.#log.warn('config directory unusable, keeping the last good one', { path, problem });
  }

  /** The directory changed to `hash`: reload ATS, then verify (and restore) the ring. */
  applyConfig(hash: string): Promise<LastReload | undefined> {
    return this.#serial.run(async () => {
      try {
        await this.#bridge.reloadConfig();
      } catch (err) {
        this.#metrics.configReloads.inc({ result: 'failed', trigger: 'agent' });
        this.#log.warn('config reload failed', { configHash: hash, error: message(err) });
        return undefined;
      }
      this.#configHash = hash;
      // Our own reload moved the reconfigure time: re-baseline so it is not counted as external.
      this.#reconfigureTime = await this.#readReconfigureTime();
      return this.#verify('agent', hash);
    });
  }

  /** One re-assert tick: a reconfigure time change nobody here asked for is an external reload. */
  checkExternal(): Promise<LastReload | undefined> {
    if (this.#serial.busy > 0) return Promise.resolve(undefined);
    return this.#serial.run(async () => {
      const now = await this.#readReconfigureTime();
      if (now === undefined) return undefined;
      const before = this.#reconfigureTime;
      this.#reconfigureTime = now;
      if (before === undefined || now === before) return undefined;
      this.#log.info('ATS configuration reloaded by someone else', { reconfigureTime: now });
      return this.#verify('external', this.#configHash ?? '');
    });
  }

  async #readReconfigureTime(): Promise<number | undefined> {
    try {
      return await this.#bridge.readReconfigureTime();
    } catch {
      return undefined; // ATS down: the keeper's loop reports it.
    }
  }

  /**
   * Watches the plugin stats for the settle period, measuring the time ATS was seen holding
   * something other than the accepted ring, then lets the keeper re-install it if needed.
   */
  async #verify(trigger: ReloadTrigger, configHash: string): Promise<LastReload> {
    const started = performance.now();
    let firstMismatch: number | undefined;
    let windowMs = 0;
    while (performance.now() - started < this.#settleMs) {
      const held = await this.#holds();
      const t = performance.now();
      if (held === false) firstMismatch ??= t;
      else if (held === true && firstMismatch !== undefined) {
        windowMs += t - firstMismatch;
        firstMismatch = undefined;
      }
      await sleep(this.#pollMs);
    }
    let keysReasserted = false;
    if ((await this.#holds()) === false) keysReasserted = await this.#keeper.reconcile();
    if (firstMismatch !== undefined) {
      // Still open at the end of the settle period: it closes when the keeper proved the ring back.
      const held = await this.#holds();
      windowMs += performance.now() - firstMismatch;
      if (held === false) this.#log.warn('ATS does not hold the accepted ring after a config reload', { trigger });
    }
    const reload: LastReload = {
      time: new Date().toISOString(),
      configHash,
      trigger,
      keysReasserted,
      windowMs: Math.round(windowMs * 10) / 10,
    };
    this.#lastReload = reload;
    this.#metrics.configReloads.inc({ result: 'ok', trigger });
    this.#metrics.configLastReload.set(Date.now() / 1000);
    if (keysReasserted) this.#metrics.configKeysReasserted.inc();
    this.#log.info('config reload verified', { ...reload });
    return reload;
  }

  /** true/false: ATS holds / does not hold the accepted ring; null: nothing accepted or ATS down. */
  async #holds(): Promise<boolean | null> {
    try {
      return this.#keeper.holdsAccepted(await this.#bridge.readInstalled());
    } catch {
      return null;
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
