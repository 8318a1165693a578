// An in-memory AtsBridge that behaves like the bridge plugin (same validation, same stats,
// same loss of keys on restart) without ATS. For unit tests and scale benchmarks only: it
// proves nothing about ATS, so no test about ATS may use it.
import { KEY_BYTES, ringFingerprint } from '../core/fingerprint.ts';
import { AtsUnavailableError, type AtsBridge, type AtsInstalled, type RingInstall, type SessionCacheStats, type TlsTicketStats } from './ats-bridge.ts';
import { MAX_RING_KEYS } from './protocol.ts';

export interface MemoryBridgeOptions {
  /** traffic_server start time (seconds since epoch); defaults to now. */
  startTime?: number;
}

export class MemoryBridge implements AtsBridge {
  /** Delivered installs (accepted or rejected), for tests. */
  installCalls = 0;
  /** When set, installs are delivered but never applied (a plugin that lost the message). */
  dropInstalls = false;
  /** When set, an install applies only after this many ms (a slow plugin). */
  applyDelayMs = 0;
  /** reloadConfig calls, for tests. */
  reloadCalls = 0;
  /**
   * Simulates a ticket key file that wins on reload: the reload replaces the ring with this
   * one (generation 0, like file keys) until the agent re-installs its own.
   */
  reloadLoadsFileKeys = false;
  /**
   * ATS's ticket counters as readTlsTicketStats() reports them (settable by tests and
   * benchmarks); null: this bridge cannot read them (readTlsTicketStats throws, as a bridge
   * whose ATS does not publish them). Reset to zero by start(), like ATS's own stats.
   */
  tlsTicketStats: TlsTicketStats | null = { ticketsNotFound: 0, ticketsVerifiedOldKey: 0 };

  #down = false;
  #ring: Buffer = Buffer.alloc(0);
  #generation = 0;
  #rejected = 0;
  #startTime: number;
  #sessions = new Set<string>();
  #removed = 0;
  #flushes = 0;
  #timers = new Set<NodeJS.Timeout>();
  #reconfigureTime = 0;

  constructor(options: MemoryBridgeOptions = {}) {
    this.#startTime = options.startTime ?? Math.floor(Date.now() / 1000);
  }

  /** Simulates traffic_server going down (every call fails like an unreachable ATS). */
  stop(): void {
    this.#down = true;
    this.#setRing(Buffer.alloc(0), 0);
    this.#sessions.clear();
  }

  /** Simulates traffic_server (re)starting: new start time, pushed keys and sessions gone. */
  start(): void {
    this.#down = false;
    this.#startTime = Math.max(Math.floor(Date.now() / 1000), this.#startTime + 1);
    this.#setRing(Buffer.alloc(0), 0);
    this.#sessions.clear();
    if (this.tlsTicketStats) this.tlsTicketStats = { ticketsNotFound: 0, ticketsVerifiedOldKey: 0 };
  }

  restart(): void {
    this.stop();
    this.start();
  }

  /** Simulates a TLS 1.2 session entering ATS's cache (TS_SSL_SESSION_HOOK NEW). */
  addSession(idHex: string): void {
    this.#sessions.add(idHex.toLowerCase());
  }

  hasSession(idHex: string): boolean {
    return this.#sessions.has(idHex.toLowerCase());
  }

  async install(ring: RingInstall): Promise<void> {
    this.#check();
    this.installCalls++;
    // The plugin's rules: a rejected message never reaches TSSslTicketKeyUpdate.
    const valid =
      ring.keys.length >= 1 &&
      ring.keys.length <= MAX_RING_KEYS &&
      ring.keys.every((k) => k.length === KEY_BYTES) &&
      (ring.generation > this.#generation || (ring.reassert === true && ring.generation === this.#generation));
    if (!valid) {
      this.#rejected++;
      return;
    }
    if (this.dropInstalls) return;
    const copy = Buffer.concat(ring.keys);
    const startedAt = this.#startTime;
    if (this.applyDelayMs > 0) {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        if (!this.#down && startedAt === this.#startTime) this.#setRing(copy, ring.generation);
        else copy.fill(0);
      }, this.applyDelayMs);
      this.#timers.add(t);
    } else {
      this.#setRing(copy, ring.generation);
    }
  }

  async readInstalled(): Promise<AtsInstalled> {
    this.#check();
    return {
      generation: this.#generation,
      keyCount: this.#ring.length / KEY_BYTES,
      ringFingerprint: this.#ring.length > 0 ? ringFingerprint(this.#ring) : '',
      rejected: this.#rejected,
      startTime: this.#startTime,
    };
  }

  async flushSessionCache(): Promise<void> {
    this.#check();
    this.#removed += this.#sessions.size;
    this.#sessions.clear();
    this.#flushes++;
  }

  async removeSession(idHex: string): Promise<void> {
    this.#check();
    if (this.#sessions.delete(idHex.toLowerCase())) this.#removed++;
  }

  async sessionCacheStats(): Promise<SessionCacheStats> {
    this.#check();
    return { tracked: this.#sessions.size, removed: this.#removed, flushes: this.#flushes };
  }

  async reloadConfig(): Promise<void> {
    this.#check();
    this.reloadCalls += 1;
    this.simulateExternalReload();
  }

  /** A reload someone else ran (traffic_ctl): new reconfigure time, file keys when set. */
  simulateExternalReload(): void {
    this.#reconfigureTime = Math.max(Math.floor(Date.now() / 1000), this.#reconfigureTime + 1);
    if (this.reloadLoadsFileKeys) this.#setRing(Buffer.alloc(KEY_BYTES, 0x5a), 0);
  }

  async readReconfigureTime(): Promise<number> {
    this.#check();
    return this.#reconfigureTime;
  }

  async readTlsTicketStats(): Promise<TlsTicketStats> {
    this.#check();
    if (!this.tlsTicketStats) throw new Error('memory bridge: ticket counters not published');
    return { ...this.tlsTicketStats };
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#setRing(Buffer.alloc(0), 0);
  }

  #check(): void {
    if (this.#down) throw new AtsUnavailableError('memory bridge: ATS is down');
  }

  #setRing(ring: Buffer, generation: number): void {
    this.#ring.fill(0);
    this.#ring = ring;
    this.#generation = generation;
  }
}
