// Generates ticketkeys_contract.h, the C half of src/contract/plugin-wire.ts, so the plugin and
// the agent cannot drift apart: the plugin includes the header, the agent imports the module.
// The header is committed (the plugin image builds it without Node);
// test/unit/ats-plugin/contract-header.test.ts fails when it differs from what this renders.
//
//   node src/ats-plugin/contract-header.ts     rewrites src/ats-plugin/ticketkeys_contract.h
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ACK_FIFO_OPTION,
  ACK_RECORD_MAX_BYTES,
  ACK_RECORD_TAG,
  CACHE_FLUSH,
  CACHE_REMOVE_PREFIX,
  CACHE_TAG,
  FRAME_FLAG_REASSERT,
  FRAME_FLAG_REVOKE,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  KEY_BYTES,
  KEY_NAME_BYTES,
  MAX_KEYS,
  PLUGIN_REJECT_OTHER,
  PLUGIN_REJECT_REASONS,
  PLUGIN_STATS,
  RING_FINGERPRINT_DOMAIN,
  RING_TAG,
  SESSION_EXPORT_MAGIC,
  SESSION_EXPORT_MESSAGE_MAX_BYTES,
  SESSION_FIFO_OPTION,
  SESSION_FUTURE_SKEW_SECONDS,
  SESSION_IMPORT_FIFO_OPTION,
  SESSION_IMPORT_HEADER_BYTES,
  SESSION_IMPORT_MAGIC,
  SESSION_IMPORT_MESSAGE_MAX_BYTES,
  SESSION_ID_MAX_BYTES,
  SESSION_IMPORT_MAX_SESSIONS,
  SESSION_IMPORT_MAX_TTL_SECONDS,
  SESSION_MAX_DER_BYTES,
  SESSIONS_TAG,
  SESSIONS_VERSION,
} from '../contract/plugin-wire.ts';

export const CONTRACT_HEADER_FILE = 'ticketkeys_contract.h';
export const CONTRACT_HEADER_PATH = join(dirname(fileURLToPath(import.meta.url)), CONTRACT_HEADER_FILE);

/** A C string literal; the contract holds printable ASCII only, without quotes or backslashes. */
function str(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value) || /["\\]/.test(value)) throw new Error(`not a plain ASCII C string: ${JSON.stringify(value)}`);
  return `"${value}"`;
}

function int(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`not a non-negative integer: ${value}`);
  return String(value);
}

function hex(value: number): string {
  int(value);
  return `0x${value.toString(16).padStart(2, '0')}`;
}

/** camelCase → UPPER_SNAKE (cacheTracked → CACHE_TRACKED). */
const macroName = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

/** The header text, deterministic. */
export function renderContractHeader(): string {
  const reasons = Object.entries(PLUGIN_REJECT_REASONS);
  const lines = [
    '/*',
    ' * GENERATED from src/contract/plugin-wire.ts by src/ats-plugin/contract-header.ts: do not edit.',
    ' * Regenerate with `node src/ats-plugin/contract-header.ts`.',
    ' *',
    ' * What the agent and ticketkeys_bridge.c share: message tags, the ring frame layout, stat',
    ' * names, reject reasons, the ack records and the session-sharing formats.',
    ' */',
    '#ifndef TICKETKEYS_CONTRACT_H',
    '#define TICKETKEYS_CONTRACT_H',
    '',
    '/* Message tags */',
    `#define RING_TAG ${str(RING_TAG)}`,
    `#define CACHE_TAG ${str(CACHE_TAG)}`,
    '',
    '/* Ring frame: magic | version | flags | 0 0 | generation (u64 BE) | N x KEY_LEN key bytes */',
    `#define FRAME_MAGIC ${str(FRAME_MAGIC)}`,
    `#define FRAME_MAGIC_LEN ${int(FRAME_MAGIC.length)}`,
    `#define FRAME_VERSION ${int(FRAME_VERSION)}`,
    `#define FRAME_FLAG_REVOKE ${hex(FRAME_FLAG_REVOKE)}`,
    `#define FRAME_FLAG_REASSERT ${hex(FRAME_FLAG_REASSERT)}`,
    `#define FRAME_HEADER_LEN ${int(FRAME_HEADER_BYTES)}`,
    `#define KEY_LEN ${int(KEY_BYTES)}`,
    `#define KEY_NAME_LEN ${int(KEY_NAME_BYTES)}`,
    `#define MAX_KEYS ${int(MAX_KEYS)}`,
    '',
    '/* Ring fingerprint: SHA-256 over this domain, its NUL, then the ring bytes */',
    `#define RING_FINGERPRINT_DOMAIN ${str(RING_FINGERPRINT_DOMAIN)}`,
    '',
    '/* Cache messages: "flush" or "remove <hex session id>" */',
    `#define CACHE_FLUSH ${str(CACHE_FLUSH)}`,
    `#define CACHE_REMOVE_PREFIX ${str(CACHE_REMOVE_PREFIX)}`,
    `#define SID_MAX_LEN ${int(SESSION_ID_MAX_BYTES)}`,
    '',
    '/* Stat names */',
    ...Object.entries(PLUGIN_STATS).map(([key, name]) => `#define STAT_NAME_${macroName(key)} ${str(name)}`),
    '',
    '/* Reject reasons (logged) and their ack tokens */',
    ...reasons.map(([token, message]) => `#define REJECT_${token.toUpperCase()} ${str(message)}`),
    `#define REJECT_TOKEN_OTHER ${str(PLUGIN_REJECT_OTHER)}`,
    '#define REJECT_TOKEN_TABLE \\',
    ...reasons.map(([token], i) => `  {REJECT_${token.toUpperCase()}, ${str(token)}}${i < reasons.length - 1 ? ', \\' : ''}`),
    '',
    '/* Ack channel */',
    `#define ACK_OPT ${str(ACK_FIFO_OPTION)}`,
    `#define ACK_RECORD_TAG ${str(ACK_RECORD_TAG)}`,
    `#define ACK_LINE_MAX ${int(ACK_RECORD_MAX_BYTES)}`,
    '',
    '/* Session sharing: export records (plugin -> agent FIFO) and import messages (agent -> plugin) */',
    `#define SESSION_OPT ${str(`${SESSION_FIFO_OPTION}=`)}`,
    `#define SESSION_EXPORT_MAGIC ${str(SESSION_EXPORT_MAGIC)}`,
    `#define SESSION_EXPORT_MSG_MAX ${int(SESSION_EXPORT_MESSAGE_MAX_BYTES)}`,
    `#define SESSION_DER_MAX ${int(SESSION_MAX_DER_BYTES)}`,
    `#define SESSION_IMPORT_OPT ${str(`${SESSION_IMPORT_FIFO_OPTION}=`)}`,
    `#define SESSION_IMPORT_MAGIC ${str(SESSION_IMPORT_MAGIC)}`,
    `#define SESSION_IMPORT_HEADER_LEN ${int(SESSION_IMPORT_HEADER_BYTES)}`,
    `#define SESSION_IMPORT_MSG_MAX ${int(SESSION_IMPORT_MESSAGE_MAX_BYTES)}`,
    `#define SESSIONS_TAG ${str(SESSIONS_TAG)}`,
    `#define SESSIONS_VERSION ${str(SESSIONS_VERSION)}`,
    `#define SESSION_IMPORT_MAX ${int(SESSION_IMPORT_MAX_SESSIONS)}`,
    `#define SESSION_TTL_MAX ${int(SESSION_IMPORT_MAX_TTL_SECONDS)}`,
    `#define SESSION_FUTURE_SKEW ${int(SESSION_FUTURE_SKEW_SECONDS)}`,
    '',
    '#endif /* TICKETKEYS_CONTRACT_H */',
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(CONTRACT_HEADER_PATH, renderContractHeader());
  console.log(CONTRACT_HEADER_PATH);
}
