// JSON logs through winston. Code never logs key bytes; redaction is the safety net for
// anything that slips into a log call: fields named like key material are masked, byte arrays
// are replaced by their length, and long base64/hex runs (a 48-byte key is 64 base64 or 96 hex
// chars; a fingerprint is 16) are cut out of every string. Errors are logged as their one-line
// description (describeError), never with the bodies some library errors append.
import winston from 'winston';
import { describeError } from './describe-error.ts';

// Not `key`: the controller logs work-queue keys (namespace/name) under it.
const SECRET_FIELDS = new Set(['material', 'ring', 'data', 'ticket.key', 'secret', 'privateKey', 'tls.key']);
// Standard base64 and hex alphabets only: Kubernetes names (with - and .) stay readable.
const LONG_BLOB = /[A-Za-z0-9+/=]{44,}/g;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[depth]';
  if (typeof value === 'string') return value.replace(LONG_BLOB, '[redacted]');
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.length} bytes redacted]`;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return redact(describeError(value), depth + 1);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELDS.has(k) ? '[redacted]' : redact(v, depth + 1);
    return out;
  }
  return value;
}

const redactFormat = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (k === 'level' || k === 'timestamp') continue;
    (info as Record<string, unknown>)[k] = SECRET_FIELDS.has(k) ? '[redacted]' : redact(info[k]);
  }
  return info;
});

export type Logger = winston.Logger;

export interface LoggerOptions {
  component: string;
  level?: string;
  /** Defaults to stderr so CLI output on stdout stays machine-readable. */
  stream?: NodeJS.WritableStream;
}

export function createLogger({ component, level, stream }: LoggerOptions): Logger {
  // winston runs the format of every call and lets the transport drop what is below its level:
  // drop it first, so a debug line on a hot path costs nothing unless debug is on.
  const enabledOnly = winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false));
  const logger = winston.createLogger({
    level: level ?? process.env.TKO_LOG_LEVEL ?? 'info',
    defaultMeta: { component },
    format: winston.format.combine(enabledOnly(), redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: stream ?? process.stderr })],
  });
  return logger;
}
