// The session FIFO's record parser (strict, bounded, byte-wise) and the reader: lines split
// across reads, several records in one read, oversized lines dropped whole, close and re-open.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { lstat, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { parseSessionRecord, SESSION_LINE_MAX, SessionChannel } from '../../../../src/agent/ats9/session-channel.ts';
import type { ExportedSession } from '../../../../src/agent/ats-bridge.ts';

const ID = 'ab'.repeat(32);
const DER = '30'.repeat(158);
const RECORD = `tks1 id=${ID} t=1765000000 to=7200 der=${DER}`;

const parse = (line: string) => parseSessionRecord(Buffer.from(line, 'latin1'));

describe('parseSessionRecord', () => {
  it('reads a record into id, DER, time and timeout', () => {
    const r = parse(RECORD);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.session.id.toString('hex')).toBe(ID);
    expect(r.session.der.toString('hex')).toBe(DER);
    expect(r.session.time).toBe(1765000000);
    expect(r.session.timeoutSeconds).toBe(7200);
  });

  it('accepts upper-case hex, a 1-byte id and a 256-byte DER', () => {
    const r = parse(`tks1 id=0A t=0 to=1 der=${'Ff'.repeat(256)}`);
    expect(r.ok && r.session.id.toString('hex')).toBe('0a');
    expect(r.ok && r.session.der.length).toBe(256);
  });

  it.each([
    ['empty', ''],
    ['another tag', RECORD.replace('tks1', 'tks2')],
    ['no space after the tag', RECORD.replace('tks1 ', 'tks1')],
    ['a missing field', RECORD.replace(' to=7200', '')],
    ['an extra field', `${RECORD} x=1`],
    ['fields out of order', `tks1 t=1765000000 id=${ID} to=7200 der=${DER}`],
    ['two spaces', RECORD.replace(' t=', '  t=')],
    ['a trailing space', `${RECORD} `],
    ['an empty id', RECORD.replace(`id=${ID}`, 'id=')],
    ['an odd-length id', RECORD.replace(`id=${ID}`, 'id=abc')],
    ['a 33-byte id', RECORD.replace(`id=${ID}`, `id=${'ab'.repeat(33)}`)],
    ['non-hex in the id', RECORD.replace(`id=${ID}`, `id=zz${ID.slice(2)}`)],
    ['an empty DER', RECORD.replace(`der=${DER}`, 'der=')],
    ['a 257-byte DER', RECORD.replace(`der=${DER}`, `der=${'30'.repeat(257)}`)],
    ['non-hex in the DER', RECORD.replace(`der=${DER}`, `der=${DER.slice(0, -2)}g0`)],
    ['a negative time', RECORD.replace('t=1765000000', 't=-1')],
    ['a leading zero', RECORD.replace('t=1765000000', 't=01765000000')],
    ['a 16-digit time', RECORD.replace('t=1765000000', 't=1234567890123456')],
    ['a non-numeric timeout', RECORD.replace('to=7200', 'to=x')],
    ['a line over the limit', `${RECORD}${'0'.repeat(SESSION_LINE_MAX)}`],
  ])('refuses %s', (_what, line) => {
    expect(parse(line).ok).toBe(false);
  });

  it('does not change the line it parses', () => {
    const line = Buffer.from(RECORD, 'latin1');
    const copy = Buffer.from(line);
    parseSessionRecord(line);
    expect(line.equals(copy)).toBe(true);
  });
});

describe('SessionChannel', () => {
  let dir: string;
  let path: string;
  const channels: SessionChannel[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tko-sessch-'));
    path = join(dir, 'sessions');
  });
  afterEach(async () => {
    for (const c of channels.splice(0)) await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function open(onSession: (s: ExportedSession) => void): Promise<SessionChannel> {
    const ch = await SessionChannel.open(path, onSession);
    channels.push(ch);
    return ch;
  }

  /** Writes like the plugin: O_WRONLY|O_NONBLOCK (fails with ENXIO without a reader). */
  function write(data: string): void {
    const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
  }

  async function until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise((r) => setTimeout(r, 5));
  }

  it('creates the FIFO mode 0600 and hands every record to the consumer, split or batched', async () => {
    const got: ExportedSession[] = [];
    const ch = await open((s) => got.push(s));
    const st = await lstat(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);

    write(`${RECORD}\n${RECORD.replace('t=1765000000', 't=1765000001')}\n`);
    write(RECORD.slice(0, 40));
    write(`${RECORD.slice(40)}\n`);
    await until(() => got.length === 3);
    expect(got.map((s) => s.time)).toEqual([1765000000, 1765000001, 1765000000]);
    expect(got[2]!.der.toString('hex')).toBe(DER);
    expect(ch.counts).toEqual({ sessions: 3, invalid: 0, oversized: 0 });
  });

  it('counts malformed and oversized lines and keeps reading after them', async () => {
    const got: ExportedSession[] = [];
    const errors: string[] = [];
    const ch = await SessionChannel.open(path, (s) => got.push(s), { onInvalid: (e) => errors.push(e) });
    channels.push(ch);
    write(`garbage\n${'a'.repeat(SESSION_LINE_MAX + 10)}\n${RECORD}\n`);
    await until(() => got.length === 1);
    expect(ch.counts).toEqual({ sessions: 1, invalid: 1, oversized: 1 });
    expect(errors).toEqual(['unknown record tag', 'line too long']);
    expect(errors.join(' ')).not.toContain(DER.slice(0, 16)); // no record contents in errors
  });

  it('can be closed (writers then find no reader) and re-opened', async () => {
    const got: ExportedSession[] = [];
    const first = await open((s) => got.push(s));
    await first.close();
    expect(() => write(`${RECORD}\n`)).toThrow(expect.objectContaining({ code: 'ENXIO' }));
    await open((s) => got.push(s));
    write(`${RECORD}\n`);
    await until(() => got.length === 1);
    expect(got).toHaveLength(1);
  });

  it('refuses a path that is not a FIFO, a symlink to one, and a relative path', async () => {
    await writeFile(path, '');
    await expect(SessionChannel.open(path, () => undefined)).rejects.toThrow(/not a FIFO/);
    const real = join(dir, 'real');
    const ch = await SessionChannel.open(real, () => undefined);
    channels.push(ch);
    const link = join(dir, 'link');
    await symlink(real, link);
    await expect(SessionChannel.open(link, () => undefined)).rejects.toThrow(/not a FIFO/);
    await expect(SessionChannel.open('relative/sessions', () => undefined)).rejects.toThrow(/absolute/);
    await expect(SessionChannel.open(join(dir, 'x'), () => undefined, { mode: 0o666 })).rejects.toThrow(/mode/);
  });
});
