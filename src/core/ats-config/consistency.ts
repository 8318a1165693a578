// Does the ATS configuration in the referenced ConfigMap let the pushed ring stay the keys ATS
// uses? A pure reading of the parsed files against what ATS does on a reload (measured on 9.2):
// a ticket key file ATS re-reads on reload, dest_ip contexts with private keys, tickets turned
// off, a lifetime hint longer than the keys are kept, and files that cannot be read. Every
// finding is listed; the condition carries the most severe reason and all messages.
import type { ConditionStatus } from '../actions.ts';
import type { AtsConfigFiles } from './config-map-files.ts';
import type { ConfigUnparseable } from './problems.ts';
import { atsInt, isUnsetString, RECORD, type AtsRecord, type RecordsFile } from './records.ts';
import type { SniYamlFile } from './sni-yaml.ts';
import type { SslMulticertFile } from './ssl-multicert.ts';

/** Most severe first: the order decides the condition's reason when several apply. */
export const CONFIG_REASONS_BY_SEVERITY = [
  // Every reload replaces the pushed keys: resumption across pods breaks each time.
  'RelativeTicketKeyFile',
  // A reload after the file changes replaces them.
  'TicketKeyFileOverridesPushedKeys',
  // Nothing can be checked (and pods mounting it may not start).
  'ConfigMapNotFound',
  // Part of the configuration cannot be checked (and ATS skips or refuses it too).
  'ConfigUnparseable',
  // Some addresses never use the pushed keys.
  'DestIpLinesUsePrivateKeys',
  // Clients keep tickets their keys no longer decrypt: full handshakes, no failures.
  'TicketLifetimeHintExceedsRetention',
  // The pushed keys go unused where tickets are off.
  'SessionTicketsDisabled',
] as const;
export type ConfigReason = (typeof CONFIG_REASONS_BY_SEVERITY)[number];

/** Reasons that mean "could not check", not "found inconsistent". */
const UNKNOWN_REASONS: ReadonlySet<ConfigReason> = new Set(['ConfigMapNotFound', 'ConfigUnparseable']);

/** OpenSSL's session timeout when ATS sets none (tls1_default_timeout; measured: s_client shows a hint of 7200 s). */
export const OPENSSL_DEFAULT_SESSION_TIMEOUT_S = 7200;
const MAX_NAMED_LINES = 10;
export const MAX_CONDITION_MESSAGE_CHARS = 4096;

export interface ConfigFinding {
  readonly reason: ConfigReason;
  readonly file?: string;
  readonly lines: readonly number[];
  readonly message: string;
}

export interface ConfigConsistentCondition {
  readonly type: 'ConfigConsistent';
  readonly status: ConditionStatus;
  readonly reason: ConfigReason | 'Consistent';
  readonly message: string;
}

export type ConfigMapInput = { readonly found: false } | ({ readonly found: true } & AtsConfigFiles);

export interface ConsistencyInput {
  readonly configMapName: string;
  readonly configMap: ConfigMapInput;
  /** The TicketKeySet's ticketLifetime: how long a retired key still decrypts. */
  readonly ticketLifetimeMs: number;
  readonly fileFallbackEnabled: boolean;
}

export interface ConsistencyResult {
  readonly condition: ConfigConsistentCondition;
  /** All findings, most severe first. */
  readonly findings: readonly ConfigFinding[];
}

function nameLines(lines: readonly number[], describe: (line: number) => string = String): string {
  const shown = lines.slice(0, MAX_NAMED_LINES).map(describe).join(', ');
  return lines.length > MAX_NAMED_LINES ? `${shown} and ${lines.length - MAX_NAMED_LINES} more` : shown;
}

const at = (file: string, line: number | undefined): string => (line === undefined ? file : `${file} line ${line}`);
const quote = (s: string, max = 120): string => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
const duration = (s: number): string => (s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);

function ticketKeyFileFinding(file: string, rec: AtsRecord, fileFallback: boolean): ConfigFinding | undefined {
  if (isUnsetString(rec.value)) return undefined;
  const path = (rec.value ?? '').trim();
  if (!path.startsWith('/')) {
    return {
      reason: 'RelativeTicketKeyFile',
      file,
      lines: [rec.line],
      message:
        `${at(file, rec.line)}: ${RECORD.ticketKeyFile} is the relative path ${quote(path)}; ATS re-reads it on every configuration reload ` +
        `(its freshness check looks at the wrong path) and replaces the pushed keys each time. Remove the setting` +
        (fileFallback ? ', or give the absolute path of the file the operator maintains' : ''),
    };
  }
  if (fileFallback) return undefined;
  return {
    reason: 'TicketKeyFileOverridesPushedKeys',
    file,
    lines: [rec.line],
    message:
      `${at(file, rec.line)}: ${RECORD.ticketKeyFile} is ${quote(path)}; a reload after that file changes loads its keys instead of the pushed ring. ` +
      `Remove the setting, or enable spec.fileFallback so the operator keeps the file equal to the ring it pushes`,
  };
}

function recordsFindings(rf: RecordsFile, ticketLifetimeMs: number, fileFallback: boolean): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  const get = (name: string) => rf.records.get(name);
  const keyFile = get(RECORD.ticketKeyFile);
  const keyFileFinding = keyFile && ticketKeyFileFinding(rf.file, keyFile, fileFallback);
  if (keyFileFinding) out.push(keyFileFinding);

  const enable = get(RECORD.sessionTicketEnable);
  const ticketsOff = enable !== undefined && atsInt(enable.value) === 0;
  if (enable && ticketsOff) {
    out.push({
      reason: 'SessionTicketsDisabled',
      file: rf.file,
      lines: [enable.line],
      message: `${at(rf.file, enable.line)}: ${RECORD.sessionTicketEnable} is 0; ATS issues no session tickets, so the pushed keys are unused (resumption relies on the session cache alone)`,
    });
  }
  const number = get(RECORD.sessionTicketNumber);
  if (number && !ticketsOff && atsInt(number.value) === 0) {
    out.push({
      reason: 'SessionTicketsDisabled',
      file: rf.file,
      lines: [number.line],
      message: `${at(rf.file, number.line)}: ${RECORD.sessionTicketNumber} is 0; ATS issues no TLS 1.3 session tickets (TLS 1.2 tickets still use the pushed keys)`,
    });
  }

  if (!ticketsOff) {
    const timeout = get(RECORD.sessionCacheTimeout);
    const set = timeout ? atsInt(timeout.value) : undefined;
    const explicit = set !== undefined && set > 0;
    const hintS = explicit ? set : OPENSSL_DEFAULT_SESSION_TIMEOUT_S;
    if (hintS * 1000 > ticketLifetimeMs) {
      const lifetimeS = Math.floor(ticketLifetimeMs / 1000);
      out.push({
        reason: 'TicketLifetimeHintExceedsRetention',
        file: rf.file,
        lines: explicit && timeout ? [timeout.line] : [],
        message:
          (explicit && timeout
            ? `${at(rf.file, timeout.line)}: ${RECORD.sessionCacheTimeout} is ${hintS} (${duration(hintS)})`
            : `${rf.file}: ${RECORD.sessionCacheTimeout} is not set, so OpenSSL's default of ${hintS}s (${duration(hintS)}) applies`) +
          `; ATS sends it as the ticket lifetime hint, longer than spec.ticketLifetime (${duration(lifetimeS)}): clients keep tickets after their key is destroyed ` +
          `and fall back to full handshakes. Set ${RECORD.sessionCacheTimeout} to at most ${lifetimeS}`,
      });
    }
  }
  return out;
}

function multicertFindings(mc: SslMulticertFile): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  const terminating = mc.lines.filter((l) => !l.tunnel);
  const off = terminating.filter((l) => l.ticketEnabled === 0);
  if (off.length > 0) {
    out.push({
      reason: 'SessionTicketsDisabled',
      file: mc.file,
      lines: off.map((l) => l.line),
      message: `${mc.file} ${off.length === 1 ? 'line' : 'lines'} ${nameLines(off.map((l) => l.line))}: ssl_ticket_enabled=0; those certificate contexts issue no session tickets`,
    });
  }
  const privateKeys = terminating.filter((l) => l.destIp !== undefined && l.destIp !== '*' && l.ticketEnabled !== 0);
  if (privateKeys.length > 0) {
    const byLine = new Map(privateKeys.map((l) => [l.line, l.destIp ?? '']));
    out.push({
      reason: 'DestIpLinesUsePrivateKeys',
      file: mc.file,
      lines: privateKeys.map((l) => l.line),
      message:
        `${mc.file} ${privateKeys.length === 1 ? 'line' : 'lines'} ${nameLines([...byLine.keys()], (n) => `${n} (dest_ip=${quote(byLine.get(n) ?? '', 60).slice(1, -1)})`)}: ` +
        `ATS gives a context with an explicit dest_ip its own random ticket keys on every ssl_multicert reload, ignoring the pushed keys, ` +
        `so its clients cannot resume on another pod. Use dest_ip=* (certificates are then chosen by SNI)`,
    });
  }
  return out;
}

function sniFindings(sni: SniYamlFile): ConfigFinding[] {
  const off = sni.ticketOptions.filter((o) => atsInt(o.value) === 0);
  if (off.length === 0) return [];
  const byLine = new Map(off.map((o) => [o.line, o]));
  return [
    {
      reason: 'SessionTicketsDisabled',
      file: sni.file,
      lines: [...byLine.keys()],
      message:
        `${sni.file}: ${nameLines([...byLine.keys()], (n) => {
          const o = byLine.get(n);
          return `line ${n} (${quote(o?.fqdn ?? '', 80)}: ${o?.key ?? ''}: 0)`;
        })}; no session tickets (or no TLS 1.3 tickets, for ssl_ticket_number) for those server names`,
    },
  ];
}

function unparseableFindings(errors: readonly ConfigUnparseable[], files: readonly (RecordsFile | SslMulticertFile | SniYamlFile)[]): ConfigFinding[] {
  const out: ConfigFinding[] = errors.map((e) => ({
    reason: 'ConfigUnparseable' as const,
    file: e.file,
    lines: e.line === undefined ? [] : [e.line],
    message: `${at(e.file, e.line)}: ${e.detail}`,
  }));
  for (const f of files) {
    if (f.problems.length === 0) continue;
    const shown = f.problems.map((p) => `line ${p.line}: ${p.message}`).join('; ');
    out.push({
      reason: 'ConfigUnparseable',
      file: f.file,
      lines: f.problems.map((p) => p.line),
      message: `${f.file}: ${shown}${f.moreProblems > 0 ? `; and ${f.moreProblems} more unreadable lines` : ''}`,
    });
  }
  return out;
}

const severity = (r: ConfigReason): number => CONFIG_REASONS_BY_SEVERITY.indexOf(r);

export function analyzeConfigConsistency(input: ConsistencyInput): ConsistencyResult {
  const { configMap, configMapName } = input;
  const findings: ConfigFinding[] = [];
  if (!configMap.found) {
    findings.push({
      reason: 'ConfigMapNotFound',
      lines: [],
      message: `ConfigMap ${configMapName} (spec.atsConfig.configMapRef) does not exist in this namespace; the ATS configuration cannot be checked`,
    });
  } else {
    for (const rf of configMap.records) findings.push(...recordsFindings(rf, input.ticketLifetimeMs, input.fileFallbackEnabled));
    if (configMap.sslMulticert) findings.push(...multicertFindings(configMap.sslMulticert));
    if (configMap.sni) findings.push(...sniFindings(configMap.sni));
    const parsed = [...configMap.records, ...(configMap.sslMulticert ? [configMap.sslMulticert] : []), ...(configMap.sni ? [configMap.sni] : [])];
    findings.push(...unparseableFindings(configMap.unparseable, parsed));
  }
  findings.sort((a, b) => severity(a.reason) - severity(b.reason));

  const top = findings[0];
  if (!top) {
    return {
      findings,
      condition: {
        type: 'ConfigConsistent',
        status: 'True',
        reason: 'Consistent',
        message: `ConfigMap ${configMapName}: ATS takes its ticket keys only from the operator's pushes, and its ticket lifetime hint is within spec.ticketLifetime`,
      },
    };
  }
  const joined = findings.map((f) => f.message).join('; ');
  const message = joined.length > MAX_CONDITION_MESSAGE_CHARS ? `${joined.slice(0, MAX_CONDITION_MESSAGE_CHARS - 1)}…` : joined;
  const status: ConditionStatus = findings.every((f) => UNKNOWN_REASONS.has(f.reason)) ? 'Unknown' : 'False';
  return { findings, condition: { type: 'ConfigConsistent', status, reason: top.reason, message } };
}
