// The C plugin reads the contract through ticketkeys_contract.h, generated from
// src/contract/plugin-wire.ts. Change the contract and forget to regenerate, or hard-code one of
// its values in the C source again, and this fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { CONTRACT_HEADER_PATH, renderContractHeader } from '../../../src/ats-plugin/contract-header.ts';
import * as wire from '../../../src/contract/plugin-wire.ts';

const C_SOURCE = readFileSync(join(process.cwd(), 'src', 'ats-plugin', 'ticketkeys_bridge.c'), 'utf8');
/** The C source without comments: what the compiler sees. */
const C_CODE = C_SOURCE.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

/** Values of `#define NAME value` lines. */
function defines(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^#define (\w+) (.+)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
}

describe('ticketkeys_contract.h', () => {
  it('is committed exactly as the generator renders it (run `node src/ats-plugin/contract-header.ts`)', () => {
    expect(readFileSync(CONTRACT_HEADER_PATH, 'utf8')).toBe(renderContractHeader());
  });

  it('carries the contract values', () => {
    const d = defines(renderContractHeader());
    expect(d.get('RING_TAG')).toBe(JSON.stringify(wire.RING_TAG));
    expect(d.get('CACHE_TAG')).toBe(JSON.stringify(wire.CACHE_TAG));
    expect(d.get('FRAME_MAGIC')).toBe(JSON.stringify(wire.FRAME_MAGIC));
    expect(Number(d.get('FRAME_MAGIC_LEN'))).toBe(wire.FRAME_MAGIC.length);
    expect(Number(d.get('FRAME_VERSION'))).toBe(wire.FRAME_VERSION);
    expect(Number(d.get('FRAME_FLAG_REVOKE'))).toBe(wire.FRAME_FLAG_REVOKE);
    expect(Number(d.get('FRAME_FLAG_REASSERT'))).toBe(wire.FRAME_FLAG_REASSERT);
    expect(Number(d.get('FRAME_HEADER_LEN'))).toBe(wire.FRAME_HEADER_BYTES);
    expect(Number(d.get('KEY_LEN'))).toBe(wire.KEY_BYTES);
    expect(Number(d.get('KEY_NAME_LEN'))).toBe(wire.KEY_NAME_BYTES);
    expect(Number(d.get('MAX_KEYS'))).toBe(wire.MAX_RING_KEYS);
    expect(Number(d.get('SID_MAX_LEN'))).toBe(wire.SESSION_ID_MAX_BYTES);
    expect(d.get('RING_FINGERPRINT_DOMAIN')).toBe(JSON.stringify(wire.RING_FINGERPRINT_DOMAIN));
    expect(d.get('ACK_RECORD_TAG')).toBe(JSON.stringify(wire.ACK_RECORD_TAG));
    expect(Number(d.get('ACK_LINE_MAX'))).toBe(wire.ACK_RECORD_MAX_BYTES);
    expect(d.get('ACK_OPT')).toBe(JSON.stringify(wire.ACK_FIFO_OPTION));
    expect(d.get('SESSION_OPT')).toBe(JSON.stringify(`${wire.SESSION_FIFO_OPTION}=`));
    expect(d.get('SESSION_EXPORT_MAGIC')).toBe(JSON.stringify(wire.SESSION_EXPORT_MAGIC));
    expect(Number(d.get('SESSION_EXPORT_MSG_MAX'))).toBe(wire.SESSION_EXPORT_MESSAGE_MAX_BYTES);
    expect(d.get('SESSION_IMPORT_MAGIC')).toBe(JSON.stringify(wire.SESSION_IMPORT_MAGIC));
    expect(Number(d.get('SESSION_IMPORT_MSG_MAX'))).toBe(wire.SESSION_IMPORT_MESSAGE_MAX_BYTES);
    expect(Number(d.get('SESSION_DER_MAX'))).toBe(wire.SESSION_MAX_DER_BYTES);
    expect(d.get('SESSIONS_TAG')).toBe(JSON.stringify(wire.SESSIONS_TAG));
    expect(d.get('SESSIONS_VERSION')).toBe(JSON.stringify(wire.SESSIONS_VERSION));
    expect(Number(d.get('SESSION_IMPORT_MAX'))).toBe(wire.SESSION_IMPORT_MAX_SESSIONS);
    expect(Number(d.get('SESSION_TTL_MAX'))).toBe(wire.SESSION_IMPORT_MAX_TTL_SECONDS);
    expect(Number(d.get('SESSION_FUTURE_SKEW'))).toBe(wire.SESSION_FUTURE_SKEW_SECONDS);
    const statNames = [...d].filter(([k]) => k.startsWith('STAT_NAME_')).map(([, v]) => JSON.parse(v) as string);
    expect(statNames.sort()).toEqual(Object.values(wire.PLUGIN_STATS).sort());
    for (const [token, message] of Object.entries(wire.PLUGIN_REJECT_REASONS)) {
      expect(d.get(`REJECT_${token.toUpperCase()}`)).toBe(JSON.stringify(message));
    }
  });
});

describe('ticketkeys_bridge.c', () => {
  it('includes the generated header and defines none of its names itself', () => {
    expect(C_CODE).toContain('#include "ticketkeys_contract.h"');
    const own = defines(C_CODE);
    const generated = [...defines(renderContractHeader()).keys()];
    expect(generated.filter((name) => own.has(name))).toEqual([]);
  });

  it('spells no contract string in its code (tags, stat names, reject reasons, ack tag)', () => {
    const strings = [
      wire.RING_TAG,
      wire.CACHE_TAG,
      wire.FRAME_MAGIC,
      wire.RING_FINGERPRINT_DOMAIN,
      wire.ACK_RECORD_TAG,
      wire.ACK_FIFO_OPTION,
      wire.SESSION_FIFO_OPTION,
      `${wire.SESSION_FIFO_OPTION}=`,
      wire.SESSION_EXPORT_MAGIC,
      wire.SESSION_IMPORT_MAGIC,
      wire.SESSIONS_TAG,
      wire.SESSIONS_VERSION,
      ...Object.values(wire.PLUGIN_STATS),
      ...Object.values(wire.PLUGIN_REJECT_REASONS),
      ...Object.keys(wire.PLUGIN_REJECT_REASONS),
    ];
    const literals = new Set([...C_CODE.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]));
    expect(strings.filter((s) => literals.has(s))).toEqual([]);
  });

  it('writes the ack records with the contract fields in the contract order', () => {
    // The format strings of ack_ring and ack_flush, with the C string pieces joined.
    const formats = [...C_CODE.matchAll(/snprintf\(line, sizeof\(line\),\s*(ACK_RECORD_TAG[\s\S]*?\\n")/g)].map((m) =>
      [...m[1]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((s) => s[1]).join(''),
    );
    expect(formats).toHaveLength(2);
    const fieldsOf = (format: string) => [...format.matchAll(/ ([a-z_]+)=/g)].map((m) => m[1]);
    const [ring, flush] = formats as [string, string];
    // ack_ring inserts " reason=<token>" through `result=%s%s%s` for a rejection.
    expect(fieldsOf(ring)).toEqual([...wire.ACK_RING_FIELDS]);
    expect(ring).toContain('result=%s%s%s');
    expect(C_CODE).toContain('reason ? " reason=" : ""');
    expect(wire.ACK_REJECTED_FIELDS.filter((f) => f !== 'reason')).toEqual([...wire.ACK_RING_FIELDS]);
    expect(wire.ACK_REJECTED_FIELDS.indexOf('reason')).toBe(wire.ACK_RING_FIELDS.indexOf('result') + 1);
    expect(fieldsOf(flush)).toEqual([...wire.ACK_FLUSH_FIELDS]);
  });
});
