// The records (proxy.config.* settings) read from records.config (ATS 9) or records.yaml
// (ATS 10), and the few that decide whether pushed ticket keys stay the keys ATS uses.
// Names checked against mgmt/RecordsConfig.cc (9.2.x) and src/records/RecordsConfig.cc (10.x):
// the ticket records keep their names across both.
import type { LineProblem } from './problems.ts';

export const RECORD = {
  /** A key file ATS re-reads on reload (relative to proxy.config.ssl.server.cert.path). */
  ticketKeyFile: 'proxy.config.ssl.server.ticket_key.filename',
  /** 0 disables session tickets (default 1). */
  sessionTicketEnable: 'proxy.config.ssl.server.session_ticket.enable',
  /** TLS 1.3 tickets issued per handshake; 0 issues none (default 2). */
  sessionTicketNumber: 'proxy.config.ssl.server.session_ticket.number',
  /** Seconds; SSL_CTX_set_timeout, which OpenSSL also sends as the ticket lifetime hint. 0: OpenSSL's default. */
  sessionCacheTimeout: 'proxy.config.ssl.session_cache.timeout',
} as const;

export type RecordType = 'INT' | 'STRING' | 'FLOAT' | 'COUNTER';

export interface AtsRecord {
  readonly name: string;
  /** The value as ATS reads it before conversion; null for an explicit YAML null. */
  readonly value: string | null;
  /** Declared in records.config, or by a YAML tag; records.yaml usually leaves it to ATS. */
  readonly type?: RecordType;
  readonly line: number;
}

export interface RecordsFile {
  readonly file: string;
  readonly format: 'records.config' | 'records.yaml';
  /** The last setting of each name (ATS applies them in order). */
  readonly records: ReadonlyMap<string, AtsRecord>;
  readonly problems: readonly LineProblem[];
  /** Line problems beyond those kept. */
  readonly moreProblems: number;
}

/**
 * An INT record's value the way ATS converts it (ink_atoi64): optional leading whitespace,
 * 0x hex, or an optional minus sign, digits and one K/M/G/T binary multiplier; anything after
 * is ignored. Undefined when no digit leads (ATS would read 0: the caller decides).
 */
export function atsInt(value: string | null): number | undefined {
  if (value === null) return undefined;
  const m = /^[ \t\n\r]*(?:0x([0-9a-fA-F]+)|(-?)(\d+)([KMGT]?))/.exec(value);
  if (!m) return undefined;
  let n: number;
  if (m[1] !== undefined) {
    n = Number.parseInt(m[1], 16);
  } else {
    const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[4] ?? ''] ?? 1;
    n = Number(m[3]) * mult * (m[2] === '-' ? -1 : 1);
  }
  return Number.isFinite(n) ? n : undefined;
}

/** A STRING record left unset: ATS reads the literal NULL (and an empty value) as no value. */
export function isUnsetString(value: string | null): boolean {
  return value === null || value.trim() === '' || value === 'NULL';
}
