// The session FIFO's message parser (strict, bounded, all or nothing) and the reader: messages
// split across reads, several in one read, one burst per read, the pace (and no pause after a
// full read), garbage and over-long lengths skipped up to the next magic, close and re-open.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { lstat, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { parseSessionMessage, SessionChannel } from '../../../../src/agent/ats9/session-channel.ts';
import type { ExportedSession } from '../../../../src/agent/ats-bridge.ts';
import { SESSION_EXPORT_MESSAGE_MAX_BYTES } from '../../../../src/contract/plugin-wire.ts';

const ID = Buffer.alloc(32, 0xab);
const DER = Buffer.alloc(158, 0x30);

/** One session as the plugin lays it out: id and DER with their lengths, time, timeout. */
function entry(o: { id?: Buffer; der?: Buffer; derLength?: number; time?: number; timeout?: number } = {}): Buffer {
  const id = o.id ?? ID;
  const der = o.der ?? DER;
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(o.time ?? 1765000000, 0);
  tail.writeUInt32BE(o.timeout ?? 7200, 4);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(o.derLength ?? der.length);
  return Buffer.concat([Buffer.from([id.length]), id, len, der, tail]);
}

/** A message: magic, length (the body's unless given), body. */
function message(body: Buffer, length = body.length, magic = 'TKX1'): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.write(magic, 0, 'latin1');
  prefix.writeUInt32BE(length, 4);
  return Buffer.concat([prefix, body]);
}

describe('parseSessionMessage', () => {
  it('reads every session of a message into id, DER, time and timeout', () => {
    const r = parseSessionMessage(Buffer.concat([entry(), entry({ id: Buffer.from([0x0a]), der: Buffer.alloc(256, 0xff), time: 0, timeout: 1 })]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.sessions).toHaveLength(2);
    expect(r.sessions[0]!.id.equals(ID)).toBe(true);
    expect(r.sessions[0]!.der.equals(DER)).toBe(true);
    expect(r.sessions[0]!.time).toBe(1765000000);
    expect(r.sessions[0]!.timeoutSeconds).toBe(7200);
    expect(r.sessions[1]!.id.toString('hex')).toBe('0a');
    expect(r.sessions[1]!.der.length).toBe(256);
    expect([r.sessions[1]!.time, r.sessions[1]!.timeoutSeconds]).toEqual([0, 1]);
  });

  it.each([
    ['an empty body', Buffer.alloc(0)],
    ['an empty id', entry({ id: Buffer.alloc(0) })],
    ['a 33-byte id', entry({ id: Buffer.alloc(33, 1) })],
    ['an empty DER', entry({ der: Buffer.alloc(0) })],
    ['a 257-byte DER', entry({ der: Buffer.alloc(257, 1) })],
    ['a DER length beyond the body', entry({ derLength: DER.length + 1 })],
    ['a session cut short', entry().subarray(0, -1)],
    ['trailing bytes after a session', Buffer.concat([entry(), Buffer.from([0x01])])],
    ['a good session, then a bad one', Buffer.concat([entry(), entry({ id: Buffer.alloc(33, 1) })])],
  ])('refuses %s, whole', (_what, body) => {
    expect(parseSessionMessage(body).ok).toBe(false);
  });

  it('does not change the body it parses, and returns copies', () => {
    const body = entry();
    const copy = Buffer.from(body);
    const r = parseSessionMessage(body);
    expect(body.equals(copy)).toBe(true);
    body.fill(0);
    expect(r.ok && r.sessions[0]!.der.equals(DER)).toBe(true);
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

  async function open(onSessions: (sessions: ExportedSession[]) => void, paceMs?: number): Promise<SessionChannel> {
    const ch = await SessionChannel.open(path, onSessions, paceMs === undefined ? {} : { paceMs });
    channels.push(ch);
    return ch;
  }

  /** Writes like the plugin: O_WRONLY|O_NONBLOCK (fails with ENXIO without a reader). */
  function write(data: Buffer): void {
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

  it('creates the FIFO mode 0600 and hands every session to the consumer, split or batched', async () => {
    const got: ExportedSession[] = [];
    const ch = await open((sessions) => got.push(...sessions));
    const st = await lstat(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);

    write(Buffer.concat([message(Buffer.concat([entry(), entry({ time: 1765000001 })])), message(entry({ time: 1765000002 }))]));
    const split = message(entry({ time: 1765000003 }));
    write(split.subarray(0, 6)); // not even the whole length yet
    await new Promise((r) => setTimeout(r, 20));
    write(split.subarray(6, 40));
    write(split.subarray(40));
    await until(() => got.length === 4);
    expect(got.map((s) => s.time)).toEqual([1765000000, 1765000001, 1765000002, 1765000003]);
    expect(got[3]!.der.equals(DER)).toBe(true);
    expect(ch.counts).toEqual({ sessions: 4, invalid: 0, oversized: 0 });
  });

  it('hands the sessions of one read over together', async () => {
    const bursts: number[][] = [];
    await open((sessions) => bursts.push(sessions.map((s) => s.time)));
    write(Buffer.concat([message(Buffer.concat([entry({ time: 1 }), entry({ time: 2 })])), message(entry({ time: 3 }))]));
    await until(() => bursts.length === 1);
    expect(bursts).toEqual([[1, 2, 3]]);
  });

  it('with paceMs, reads once per pace: what the plugin writes meanwhile waits in the pipe and comes as one burst', async () => {
    const bursts: number[][] = [];
    await open((sessions) => bursts.push(sessions.map((s) => s.time)), 1500);
    write(message(entry({ time: 1 })));
    await until(() => bursts.length === 1);
    write(message(entry({ time: 2 })));
    write(message(entry({ time: 3 })));
    await new Promise((r) => setTimeout(r, 100));
    expect(bursts).toEqual([[1]]); // paused: not read yet
    await until(() => bursts.length === 2);
    expect(bursts).toEqual([[1], [2, 3]]);
  });

  it('with paceMs, a read that fills the buffer is followed by the next at once (the pipe is filling)', async () => {
    const bursts: number[] = [];
    await open((sessions) => bursts.push(sessions.length), 60_000);
    // 16 messages of 4096 bytes (19 sessions of 201 bytes and one of 269): the whole 64 KiB pipe,
    // written before the channel's first read.
    const full = message(Buffer.concat([...Array.from({ length: 19 }, () => entry()), entry({ der: Buffer.alloc(226, 0x30) })]));
    expect(full.length).toBe(4096);
    for (let i = 0; i < 16; i++) write(full);
    await until(() => bursts.length === 1);
    expect(bursts).toEqual([16 * 20]);
    // The buffer was full, so the channel did not pause: the next message is read at once...
    write(message(entry()));
    await until(() => bursts.length === 2);
    // ...and after that small read it does pause.
    write(message(entry()));
    await new Promise((r) => setTimeout(r, 100));
    expect(bursts).toEqual([320, 1]);
  });

  it('refuses a negative pace', async () => {
    await expect(SessionChannel.open(path, () => undefined, { paceMs: -1 })).rejects.toThrow(/paceMs/);
    const ch = await open(() => undefined, 40);
    expect(() => (ch.paceMs = -1)).toThrow(/paceMs/);
    expect(ch.paceMs).toBe(40);
  });

  it('a new pace ends a running pause at its start plus the new pace, and applies to the next ones', async () => {
    const bursts: number[][] = [];
    const ch = await open((sessions) => bursts.push(sessions.map((s) => s.time)), 60_000);
    write(message(entry({ time: 1 })));
    await until(() => bursts.length === 1);
    write(message(entry({ time: 2 })));
    await new Promise((r) => setTimeout(r, 100));
    expect(bursts).toEqual([[1]]); // within the 60 s pause
    ch.paceMs = 10; // its start was over 10 ms ago: read at once, not after 60 s
    await until(() => bursts.length === 2);
    ch.paceMs = 60_000;
    write(message(entry({ time: 3 })));
    await new Promise((r) => setTimeout(r, 100));
    expect(bursts).toEqual([[1], [2]]); // the pause after that read is the new 60 s
  });

  it('counts garbage, malformed and over-long messages, and keeps reading after each', async () => {
    const got: ExportedSession[] = [];
    const errors: string[] = [];
    const ch = await SessionChannel.open(path, (sessions) => got.push(...sessions), { onInvalid: (e) => errors.push(e) });
    channels.push(ch);
    write(
      Buffer.concat([
        Buffer.from('tks1 id=ab t=1 to=2 der=30\n', 'latin1'), // not a message: skipped to the next magic
        message(entry({ id: Buffer.alloc(33, 1) })), // malformed: refused whole
        message(Buffer.alloc(0), SESSION_EXPORT_MESSAGE_MAX_BYTES), // a length beyond the bound: skipped to the next magic
        Buffer.alloc(100, 0x41),
        message(entry({ time: 7 })),
      ]),
    );
    await until(() => got.length === 1);
    expect(got[0]!.time).toBe(7);
    expect(ch.counts).toEqual({ sessions: 1, invalid: 2, oversized: 1 });
    expect(errors).toEqual(['not a session message', 'id is not 1..32 bytes', 'message too long']);
    expect(errors.join(' ')).not.toContain('3030'); // no message contents in errors
  });

  it('can be closed (writers then find no reader) and re-opened', async () => {
    const got: ExportedSession[] = [];
    const first = await open((sessions) => got.push(...sessions));
    await first.close();
    expect(() => write(message(entry()))).toThrow(expect.objectContaining({ code: 'ENXIO' }));
    await open((sessions) => got.push(...sessions));
    write(message(entry()));
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
