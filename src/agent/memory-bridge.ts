// An in-memory AtsBridge that behaves like the bridge plugin (same validation, same stats,
// same loss of keys on restart) without ATS. For unit tests and scale benchmarks only: it
// proves nothing about ATS, so no test about ATS may use it.
import { KEY_BYTES, ringFingerprint } from '../core/fingerprint.ts';
import {
  AtsUnavailableError,
  type AtsBridge,
  type AtsInstalled,
  type ExportedSession,
  type SessionExportOptions,
  type RingInstall,
  type SessionCacheStats,
  type SessionImport,
  type SessionSharingPluginStats,
  type TlsTicketStats,
} from './ats-bridge.ts';
import { PacePause } from './pace-pause.ts';
import { MAX_RING_KEYS } from './protocol.ts';
import {
  SESSION_FUTURE_SKEW_SECONDS,
  SESSION_ID_MAX_BYTES,
  SESSION_IMPORT_MAX_SESSIONS,
  SESSION_IMPORT_MAX_TTL_SECONDS,
  SESSION_MAX_DER_BYTES,
} from '../contract/plugin-wire.ts';

/**
 * The memory bridge's stand-in for a session's DER (no OpenSSL): "MBS1" | id length | id |
 * time (u64 BE) | timeout (u32 BE) | zero padding up to the requested size. importSessions decodes
 * it as the plugin decodes real DER, so the id and time rules apply as in ATS.
 */
const FAKE_DER_MAGIC = Buffer.from('MBS1', 'latin1');

export function memoryBridgeSessionDer(id: Uint8Array, time: number, timeoutSeconds: number, size = 0): Buffer {
  const body = Buffer.alloc(Math.max(size, FAKE_DER_MAGIC.length + 1 + id.length + 12));
  FAKE_DER_MAGIC.copy(body, 0);
  body[4] = id.length;
  body.set(id, 5);
  body.writeBigUInt64BE(BigInt(time), 5 + id.length);
  body.writeUInt32BE(timeoutSeconds, 13 + id.length);
  return body;
}

function decodeFakeDer(der: Buffer): { id: Buffer; time: number; timeoutSeconds: number } | undefined {
  if (der.length < FAKE_DER_MAGIC.length + 1 || !der.subarray(0, 4).equals(FAKE_DER_MAGIC)) return undefined;
  const idLen = der[4]!;
  if (der.length < 5 + idLen + 12) return undefined;
  const time = Number(der.readBigUInt64BE(5 + idLen));
  if (!Number.isSafeInteger(time)) return undefined;
  return { id: der.subarray(5, 5 + idLen), time, timeoutSeconds: der.readUInt32BE(13 + idLen) };
}

/** Why the memory bridge refused a received session, as the plugin's reasons. */
export type MemoryImportRefusal = 'malformed' | 'undecodable' | 'id_mismatch' | 'before_flush' | 'future' | 'expired';

export interface MemoryBridgeOptions {
  /** traffic_server start time (seconds since epoch); defaults to now. */
  startTime?: number;
  /** Wall clock in ms (session times, flush time, expiry); default Date.now. */
  now?: () => number;
}

const zeroSharingStats = (): SessionSharingPluginStats => ({
  exported: 0,
  exportUncached: 0,
  exportDropped: 0,
  exportNoReader: 0,
  imported: 0,
  importRejected: 0,
});

interface ExportReader {
  onSessions: (sessions: ExportedSession[]) => void;
  paceMs: number;
  /** Created sessions the reader has not taken yet (the FIFO's pipe). */
  waiting: ExportedSession[];
  /** A delivery is due (the next turn of the event loop, or the end of the pace). */
  scheduled: boolean;
  /** After a delivery, for paceMs: what is created meanwhile waits. */
  pause: PacePause;
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
  readonly #now: () => number;
  /** Session sharing: the export reader (undefined: closed), as the session FIFO's (session-channel.ts). */
  #export: ExportReader | undefined;
  #sharing: SessionSharingPluginStats = zeroSharingStats();
  /** Refusals of received sessions by reason, for tests. */
  importRefusals: Record<MemoryImportRefusal, number> = { malformed: 0, undecodable: 0, id_mismatch: 0, before_flush: 0, future: 0, expired: 0 };
  /** Received sessions: id hex → expiry (seconds since epoch). */
  #importedExpiry = new Map<string, number>();
  /** Seconds since epoch of the last flush, 0: none (received sessions created before it are refused). */
  #lastFlush = 0;
  #sessionSeq = 0;

  constructor(options: MemoryBridgeOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#startTime = options.startTime ?? Math.floor(this.#now() / 1000);
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** Simulates traffic_server going down (every call fails like an unreachable ATS). */
  stop(): void {
    this.#down = true;
    this.#setRing(Buffer.alloc(0), 0);
    this.#sessions.clear();
    this.#importedExpiry.clear();
  }

  /** Simulates traffic_server (re)starting: new start time, pushed keys and sessions gone. */
  start(): void {
    this.#down = false;
    this.#startTime = Math.max(Math.floor(Date.now() / 1000), this.#startTime + 1);
    this.#setRing(Buffer.alloc(0), 0);
    this.#sessions.clear();
    this.#importedExpiry.clear();
    this.#sharing = zeroSharingStats();
    this.#lastFlush = 0;
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

  /** Is the session in the cache (and, for a received one, not past its clamped expiry)? */
  hasSession(idHex: string): boolean {
    const id = idHex.toLowerCase();
    const expiry = this.#importedExpiry.get(id);
    return this.#sessions.has(id) && (expiry === undefined || this.#nowSeconds() < expiry);
  }

  /**
   * Simulates a new TLS 1.2 session (the plugin's export path): cached here, and handed to the
   * export reader when one is open (else counted as exportNoReader). Returns the session (its der
   * in the memory bridge's stand-in format, see memoryBridgeSessionDer).
   */
  createSession(options: { id?: Buffer; time?: number; timeoutSeconds?: number; derBytes?: number } = {}): ExportedSession {
    this.#check();
    const id = options.id ?? Buffer.from(`${(++this.#sessionSeq).toString(16).padStart(8, '0')}${'5e'.repeat(28)}`, 'hex');
    const time = options.time ?? this.#nowSeconds();
    const timeoutSeconds = options.timeoutSeconds ?? 300;
    const der = memoryBridgeSessionDer(id, time, timeoutSeconds, options.derBytes ?? 180);
    this.addSession(id.toString('hex'));
    if (der.length > SESSION_MAX_DER_BYTES) this.#sharing.exportUncached++;
    else if (!this.#export) this.#sharing.exportNoReader++;
    else {
      this.#sharing.exported++;
      const reader = this.#export;
      reader.waiting.push({ id: Buffer.from(id), der: Buffer.from(der), time, timeoutSeconds });
      // Sessions made in one turn go together, as a drain tick of the plugin writes them together.
      if (!reader.scheduled) {
        reader.scheduled = true;
        setImmediate(() => this.#deliverExport(reader));
      }
    }
    return { id, der, time, timeoutSeconds };
  }

  /** Like the session FIFO's reader: what waits goes together, then nothing for paceMs. */
  #deliverExport(reader: ExportReader): void {
    if (this.#export !== reader) return; // closed: what waited was zeroed
    const sessions = reader.waiting;
    reader.waiting = [];
    if (reader.paceMs > 0) {
      reader.pause.start(reader.paceMs);
    } else {
      reader.scheduled = false;
    }
    reader.onSessions(sessions);
  }

  async openSessionExport(onSessions: (sessions: ExportedSession[]) => void, options: SessionExportOptions = {}): Promise<void> {
    this.#closeExport();
    const reader: ExportReader = {
      onSessions,
      paceMs: options.paceMs ?? 0,
      waiting: [],
      scheduled: false,
      pause: new PacePause(() => {
        if (reader.waiting.length > 0) this.#deliverExport(reader);
        else reader.scheduled = false;
      }),
    };
    this.#export = reader;
  }

  /** As the session channel: a running pause ends at its start plus the new pace. */
  setSessionExportPace(paceMs: number): void {
    const reader = this.#export;
    if (!reader) return;
    reader.paceMs = paceMs;
    reader.pause.retime(paceMs);
  }

  async closeSessionExport(): Promise<void> {
    this.#closeExport();
  }

  /** What still waits is lost, as records left in a FIFO nobody reads. */
  #closeExport(): void {
    if (!this.#export) return;
    this.#export.pause.stop();
    for (const s of this.#export.waiting) s.der.fill(0);
    this.#export = undefined;
  }

  /** The plugin's rules without OpenSSL: sizes, the stand-in DER's id and time, the ttl clamp. */
  async importSessions(batch: SessionImport): Promise<void> {
    this.#check();
    const { ttlSeconds, notBefore, sessions } = batch;
    // What encodeSessionImport refuses before anything reaches the plugin.
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > SESSION_IMPORT_MAX_TTL_SECONDS) {
      throw new RangeError(`ttlSeconds must be an integer in 1..${SESSION_IMPORT_MAX_TTL_SECONDS}`);
    }
    if (!Number.isSafeInteger(notBefore) || notBefore < 0) throw new RangeError('notBefore must be a non-negative integer');
    if (sessions.length < 1 || sessions.length > SESSION_IMPORT_MAX_SESSIONS) {
      throw new RangeError(`a sessions message holds 1..${SESSION_IMPORT_MAX_SESSIONS} sessions, got ${sessions.length}`);
    }
    sessions.forEach(({ id, der }, i) => {
      if (id.length < 1 || id.length > SESSION_ID_MAX_BYTES || der.length < 1 || der.length > SESSION_MAX_DER_BYTES) {
        throw new RangeError(`session ${i}: id or DER size out of range`);
      }
    });
    const now = this.#nowSeconds();
    const floor = Math.max(notBefore, this.#lastFlush);
    for (const { id, der } of sessions) {
      const s = decodeFakeDer(der);
      const refusal: MemoryImportRefusal | undefined = !s
        ? 'undecodable'
        : !s.id.equals(id)
          ? 'id_mismatch'
          : s.time < floor
            ? 'before_flush'
            : s.time > now + SESSION_FUTURE_SKEW_SECONDS
              ? 'future'
              : s.timeoutSeconds <= 0 || s.time + s.timeoutSeconds <= now
                ? 'expired'
                : undefined;
      if (refusal || !s) {
        this.importRefusals[refusal ?? 'undecodable']++;
        this.#sharing.importRejected++;
        continue;
      }
      const idHex = id.toString('hex');
      if (!this.#sessions.has(idHex)) {
        // As ATS: an id already cached is kept, the new one dropped.
        this.#sessions.add(idHex);
        this.#importedExpiry.set(idHex, Math.min(s.time + s.timeoutSeconds, now + ttlSeconds));
      }
      this.#sharing.imported++;
    }
  }

  async sessionSharingStats(): Promise<SessionSharingPluginStats> {
    this.#check();
    return { ...this.#sharing };
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
    this.#importedExpiry.clear();
    this.#flushes++;
    this.#lastFlush = this.#nowSeconds();
  }

  async removeSession(idHex: string): Promise<void> {
    this.#check();
    this.#importedExpiry.delete(idHex.toLowerCase());
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
    this.#closeExport();
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
