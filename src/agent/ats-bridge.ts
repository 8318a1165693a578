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

/** Thrown when ATS cannot be reached (down, restarting, socket missing): the agent answers 503. */
export class AtsUnavailableError extends Error {
  override name = 'AtsUnavailableError';
}

export interface AtsBridge {
  /** Hands the ring to ATS. Resolves when the message is delivered, not when it is applied. */
  install(ring: RingInstall): Promise<void>;
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
  close(): Promise<void>;
}
