// The one ATS-facing interface of the agent. ATS 9 (management socket + bridge plugin) is the
// implementation today; ATS 10 (JSON-RPC) slots in here without touching the HTTP layer.

/** A ring to install, in push order (keys[0] encrypts). Key material is 48 bytes each. */
export interface RingInstall {
  generation: number;
  keys: Buffer[];
  /** Emergency revoke: the ring replaces every key. Still needs a newer generation. */
  revoke: boolean;
  /**
   * The agent re-installs its accepted ring over another ring ATS holds at the same
   * generation: the only case where an equal generation is accepted. Never a lower one.
   */
  reassert?: boolean;
}

/** What ATS holds now, as published by the bridge plugin's stats. No key bytes. */
export interface AtsInstalled {
  /** 0 when the plugin has installed nothing since traffic_server started. */
  generation: number;
  keyCount: number;
  /** 16 hex chars, see core/fingerprint.ts ringFingerprint; '' when nothing installed. */
  ringFingerprint: string;
  rejected: number;
  /** traffic_server start time (seconds since epoch), changes on every restart. */
  startTime: number;
  /** The plugin could not mlock its key store (undefined: not reported). */
  mlockFailed?: boolean;
}

export interface SessionCacheStats {
  tracked: number;
  removed: number;
  flushes: number;
  /** Session-id lookups that found the session; undefined from a plugin that does not count them. */
  hits?: number;
}

/**
 * The plugin's own confirmation of an install, read from its ack channel (ATS 9:
 * ats9/ack-channel.ts) rather than from its stats. Untrusted input: stats read-back stays the
 * periodic truth check.
 */
export interface InstallReceipt {
  generation: number;
  keyCount: number;
  ringFingerprint: string;
}

/** The plugin refused the ring and said why over its ack channel (`reason`: the plugin's token). */
export class AtsRejectedError extends Error {
  override name = 'AtsRejectedError';
  readonly reason: string;
  /** The generation the plugin holds. */
  readonly installedGeneration: number;
  constructor(reason: string, installedGeneration: number) {
    super(`ATS plugin rejected the ring: ${reason}`);
    this.reason = reason;
    this.installedGeneration = installedGeneration;
  }
}

/**
 * ATS's own session-ticket counters since traffic_server started. ATS 9.2: the records
 * proxy.process.ssl.total_tickets_not_found and proxy.process.ssl.total_tickets_verified_old_key
 * (see ats9/tls-records.ts).
 */
export interface TlsTicketStats {
  /** Tickets no key could decrypt (a resumption that fell back to a full handshake). */
  ticketsNotFound: number;
  /** Tickets decrypted with a key other than the encrypting one. */
  ticketsVerifiedOldKey: number;
}

/** Thrown when ATS cannot be reached (down, restarting, socket missing): the agent answers 503. */
export class AtsUnavailableError extends Error {
  override name = 'AtsUnavailableError';
}

export interface AtsBridge {
  /** Hands the ring to ATS. Resolves when the message is delivered, not when it is applied. */
  install(ring: RingInstall): Promise<void>;
  /**
   * Optional, bridges with a confirmation channel: install() that then waits briefly for the
   * plugin's receipt (AtsRejectedError when it refused the ring). Undefined when no receipt came:
   * the caller confirms through readInstalled().
   */
  installWithReceipt?(ring: RingInstall): Promise<InstallReceipt | undefined>;
  /** Reads what ATS holds now. */
  readInstalled(): Promise<AtsInstalled>;
  flushSessionCache(): Promise<void>;
  /** Removes one TLS session id (hex) from ATS's session cache. */
  removeSession(idHex: string): Promise<void>;
  sessionCacheStats(): Promise<SessionCacheStats>;
  /** Re-reads ATS's configuration, like `traffic_ctl config reload`. */
  reloadConfig(): Promise<void>;
  /**
   * When ATS last reloaded its configuration (seconds since epoch, 0: never), whoever asked
   * (the agent, traffic_ctl, another sidecar). ATS 9: record proxy.node.config.reconfigure_time.
   */
  readReconfigureTime(): Promise<number>;
  /**
   * ATS's session-ticket counters (the resumption SLO signal). Optional: a bridge that cannot
   * read them leaves it out, and the agent's GET /v1/ring then has no `tls`.
   */
  readTlsTicketStats?(): Promise<TlsTicketStats>;
  /** Records of the plugin's confirmation channel by outcome; undefined without one. */
  ackChannelStats?(): AckChannelStats | undefined;
  /**
   * Session sharing (optional: a bridge without these members cannot share). Opens the reader of
   * the sessions ATS creates (ATS 9: the plugin's session FIFO). New sessions are handed to
   * onSessions in bursts, at most one burst every paceMs (default 0: as they come; meanwhile they
   * wait in ATS's channel), so the consumer sends each burst at once. The consumer zeroes every
   * der after use.
   */
  openSessionExport?(onSessions: (sessions: ExportedSession[]) => void, options?: SessionExportOptions): Promise<void>;
  /**
   * Changes the pace of the open export reader (sharing's batch interval changed): a running pause
   * ends at its start plus the new pace. No-op when closed.
   */
  setSessionExportPace?(paceMs: number): void;
  /** Closes the export reader (sharing off): ATS then counts new sessions as having no reader. */
  closeSessionExport?(): Promise<void>;
  /** Hands sessions another pod made to ATS, which validates and inserts them. Resolves once delivered. */
  importSessions?(batch: SessionImport): Promise<void>;
  /** The plugin's session-sharing counters. */
  sessionSharingStats?(): Promise<SessionSharingPluginStats>;
  close(): Promise<void>;
}

export interface AckChannelStats {
  /** Records read, by outcome (matched, late, unmatched, flush, invalid, oversized). */
  records: Record<string, number>;
  /** Acks the plugin could not write (plugin.ticketkeys.acks_dropped, last read); undefined: not read yet. */
  pluginDropped: number | undefined;
  /** Acked installs the stats later showed (verified) or did not show in time (unverified: the stats won). */
  statsChecks?: { verified: number; unverified: number };
}

export interface SessionExportOptions {
  /** At most one burst of sessions every this many ms. */
  paceMs?: number;
}

/** A TLS session ATS created and cached (session sharing). `der` holds the master secret: the consumer zeroes it. */
export interface ExportedSession {
  /** Session id, 1..32 bytes. */
  id: Buffer;
  /** The session's DER (i2d_SSL_SESSION), 1..256 bytes. */
  der: Buffer;
  /** Session creation time, seconds since epoch. */
  time: number;
  /** Session timeout in seconds. */
  timeoutSeconds: number;
}

/** Sessions another pod made, for this pod's ATS. The caller zeroes the der buffers after the call. */
export interface SessionImport {
  /** The receiver clamps each session's lifetime to now + ttlSeconds (1..86400). */
  ttlSeconds: number;
  /** Sessions created before this (seconds since epoch) are refused, as those before ATS's last flush. */
  notBefore: number;
  /** 1..64 sessions. */
  sessions: Array<{ id: Buffer; der: Buffer }>;
}

/** The plugin's session-sharing counters since traffic_server started. */
export interface SessionSharingPluginStats {
  exported: number;
  exportUncached: number;
  exportDropped: number;
  exportNoReader: number;
  imported: number;
  importRejected: number;
}
