// The ack-channel record parser (strict, bounded) and the FIFO reader's framing: lines split
// across reads, several records in one read, oversized lines dropped whole.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { lstat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ACK_LINE_MAX, AckChannel, parseAck, type Ack } from '../../../../src/agent/ats9/ack-channel.ts';

const INSTALLED = 'tka1 seq=3 kind=ring result=installed gen=42 keys=2 fp=0123456789abcdef installed=42 loaded_at=1765000000';
const REJECTED = 'tka1 seq=4 kind=ring result=rejected reason=stale_generation gen=41 keys=1 fp=7fffffffffffffff installed=42 loaded_at=1765000000';
const FLUSH = 'tka1 seq=5 kind=flush flushes=2 loaded_at=1765000000';

describe('parseAck', () => {
  it('reads an install record', () => {
    expect(parseAck(INSTALLED)).toEqual({
      ok: true,
      ack: { kind: 'ring', seq: 3, result: 'installed', generation: 42, keyCount: 2, ringFingerprint: '0123456789abcdef', installedGeneration: 42, loadedAt: 1765000000 },
    });
  });

  it('reads a rejection with its reason', () => {
    expect(parseAck(REJECTED)).toEqual({
      ok: true,
      ack: { kind: 'ring', seq: 4, result: 'rejected', reason: 'stale_generation', generation: 41, keyCount: 1, ringFingerprint: '7fffffffffffffff', installedGeneration: 42, loadedAt: 1765000000 },
    });
  });

  it('reads a flush record', () => {
    expect(parseAck(FLUSH)).toEqual({ ok: true, ack: { kind: 'flush', seq: 5, flushes: 2, loadedAt: 1765000000 } });
  });

  it.each([
    ['empty', ''],
    ['another tag', INSTALLED.replace('tka1', 'tka2')],
    ['a missing field', INSTALLED.replace(' keys=2', '')],
    ['an extra field', `${INSTALLED} extra=1`],
    ['a repeated field', INSTALLED.replace('keys=2', 'keys=2 keys=2')],
    ['fields out of order', INSTALLED.replace('gen=42 keys=2', 'keys=2 gen=42')],
    ['a reason on an install', INSTALLED.replace('result=installed', 'result=installed reason=x')],
    ['no reason on a rejection', REJECTED.replace(' reason=stale_generation', '')],
    ['a reason with odd characters', REJECTED.replace('stale_generation', 'stale-generation')],
    ['an unknown result', INSTALLED.replace('installed gen', 'maybe gen')],
    ['an unknown kind', FLUSH.replace('kind=flush', 'kind=other')],
    ['a negative number', INSTALLED.replace('gen=42', 'gen=-42')],
    ['a leading zero', INSTALLED.replace('gen=42', 'gen=042')],
    ['a number past 2^53', INSTALLED.replace('gen=42', 'gen=9007199254740993')],
    ['more than 16 keys', INSTALLED.replace('keys=2', 'keys=17')],
    ['an upper-case fingerprint', INSTALLED.replace('0123456789abcdef', '0123456789ABCDEF')],
    ['a short fingerprint', INSTALLED.replace('0123456789abcdef', '0123')],
    ['a fingerprint with the top bit set', INSTALLED.replace('0123456789abcdef', 'f123456789abcdef')],
    ['double spaces', INSTALLED.replace(' kind', '  kind')],
    ['a tab', INSTALLED.replace(' kind', '\tkind')],
    ['a NUL byte', `${INSTALLED}\0`],
    ['non-ASCII', INSTALLED.replace('ring', 'rïng')],
    ['a bare word', INSTALLED.replace('kind=ring', 'kind')],
    ['an empty key', INSTALLED.replace('kind=ring', '=ring')],
    ['too long', `${INSTALLED} ${'x'.repeat(ACK_LINE_MAX)}`],
  ])('refuses %s', (_, line) => {
    expect(parseAck(line).ok).toBe(false);
  });
});

describe('AckChannel', () => {
  let dir: string;
  let path: string;
  let channel: AckChannel | undefined;
  let acks: Ack[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tko-ack-unit-'));
    path = join(dir, 'acks');
    acks = [];
  });
  afterEach(async () => {
    await channel?.close();
    channel = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const write = (data: string) => {
    const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(fd, Buffer.from(data, 'latin1'));
    } finally {
      closeSync(fd);
    }
  };
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  };

  it('creates the FIFO with the mode asked for', async () => {
    channel = await AckChannel.open(path, { mode: 0o620 });
    const st = await lstat(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o620);
  });

  it('refuses a path that is not a FIFO, and modes granting others access', async () => {
    await writeFile(path, 'x');
    await expect(AckChannel.open(path)).rejects.toThrow(/not a FIFO/);
    await expect(AckChannel.open(join(dir, 'other'), { mode: 0o666 })).rejects.toThrow(/mode/);
    await expect(AckChannel.open('relative/acks')).rejects.toThrow(/absolute/);
  });

  it('frames records split across writes and several in one write, and drops oversized lines whole', async () => {
    channel = await AckChannel.open(path);
    channel.on('ack', (a: Ack) => acks.push(a));
    write(`${INSTALLED.slice(0, 20)}`);
    write(`${INSTALLED.slice(20)}\n${FLUSH}\n`);
    write(`${'y'.repeat(ACK_LINE_MAX + 1)}`);
    write(`${'y'.repeat(100)}\n${REJECTED}\n`);
    write('garbage\n\n');
    await until(() => acks.length === 3 && channel!.counts.invalid === 1);
    expect(acks.map((a) => a.seq)).toEqual([3, 5, 4]);
    expect(channel.counts).toMatchObject({ flush: 1, invalid: 1, oversized: 1 });
  });

  it('keeps reading after writers come and go (its own write end prevents EOF)', async () => {
    channel = await AckChannel.open(path);
    channel.on('ack', (a: Ack) => acks.push(a));
    write(`${FLUSH}\n`);
    await until(() => acks.length === 1);
    write(`${FLUSH}\n`);
    await until(() => acks.length === 2);
  });
});
