// The session import FIFO's writer, against a real FIFO whose reader is the test (ATS's side is
// test/e2e/plugin-session-import-fifo.test.ts): the FIFO is created only-owner-writable, payloads
// arrive whole and in order, nobody reading fails the write, a reader that stops draining bounds
// what the agent queues, and a reader that goes away and comes back is written to again.
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { lstat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AtsUnavailableError } from '../../../../src/agent/ats-bridge.ts';
import { BACKLOG_MAX_BYTES, SessionImportChannel } from '../../../../src/agent/ats9/session-import-channel.ts';

let dir: string;
let path: string;
const channels: SessionImportChannel[] = [];
const readers: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tko-import-ch-'));
  path = join(dir, 'imports');
});

afterEach(async () => {
  for (const c of channels.splice(0)) await c.close();
  for (const fd of readers.splice(0)) closeSync(fd);
  await rm(dir, { recursive: true, force: true });
});

function channel(mode?: number): SessionImportChannel {
  const c = new SessionImportChannel(path, mode === undefined ? {} : { mode });
  channels.push(c);
  return c;
}

/** Opens the read end as the plugin does (non-blocking). */
function reader(): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  readers.push(fd);
  return fd;
}

function drain(fd: number): Buffer {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    try {
      const n = readSync(fd, buf);
      if (n <= 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
  }
  return Buffer.concat(parts);
}

describe('SessionImportChannel', () => {
  it('creates the FIFO writable by its owner alone (0600 default, 0640 for a reader in the group)', async () => {
    await channel().prepare();
    const st = await lstat(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await rm(path);
    await channel(0o640).prepare();
    expect((await lstat(path)).mode & 0o777).toBe(0o640);
  });

  it('refuses modes that would let the group or others write, and a path that is not a FIFO', async () => {
    expect(() => channel(0o620)).toThrow(/only owner read\/write and group read/);
    expect(() => channel(0o606)).toThrow(/only owner/);
    await writeFile(path, 'a regular file');
    await expect(channel().write(Buffer.from('v1 ttl=1 notbefore=0\n\n'))).rejects.toThrow(/not a FIFO/);
  });

  it('delivers payloads whole and in order once something reads', async () => {
    const c = channel();
    await c.prepare();
    const fd = reader();
    await c.write(Buffer.from('first\n\n'));
    await c.write(Buffer.from('second\n\n'));
    expect(drain(fd).toString()).toBe('first\n\nsecond\n\n');
  });

  it('fails with AtsUnavailableError while nothing reads the FIFO, and works once a reader opens it', async () => {
    const c = channel();
    await expect(c.write(Buffer.from('x\n\n'))).rejects.toThrow(AtsUnavailableError);
    await expect(c.write(Buffer.from('x\n\n'))).rejects.toThrow(/nothing reads the session import FIFO/);
    const fd = reader();
    await c.write(Buffer.from('now\n\n'));
    expect(drain(fd).toString()).toBe('now\n\n');
  });

  it('a reader that stops draining: the pipe fills, then at most BACKLOG_MAX_BYTES wait in the agent, later writes fail', async () => {
    const c = channel();
    await c.prepare();
    const fd = reader();
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    let refused: unknown;
    let accepted = 0;
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < 64 && refused === undefined; i++) {
      const p = c.write(chunk);
      pending.push(p.then(() => undefined, () => undefined));
      await Promise.race([p.then(() => accepted++), sleep(20)]).catch((err: unknown) => (refused = err));
    }
    expect(refused).toBeInstanceOf(AtsUnavailableError);
    expect(String((refused as Error).message)).toMatch(/not reading the session import FIFO fast enough/);
    // What was taken: the pipe (64 KiB) plus the bounded backlog, never all 64 chunks.
    expect(accepted * chunk.length).toBeLessThanOrEqual(64 * 1024 + BACKLOG_MAX_BYTES);
    // Draining lets the queued writes complete.
    for (let i = 0; i < 50; i++) {
      drain(fd);
      await sleep(10);
    }
    await Promise.all(pending);
  });

  it('the reader goes away (EPIPE) and comes back: the next write after that reaches the new reader', async () => {
    const c = channel();
    await c.prepare();
    const first = reader();
    await c.write(Buffer.from('one\n\n'));
    expect(drain(first).toString()).toBe('one\n\n');
    closeSync(readers.pop()!);
    // The write into a FIFO without a reader fails (EPIPE); the one after re-opens (ENXIO until a reader is back).
    await expect(c.write(Buffer.from('lost\n\n'))).rejects.toThrow(AtsUnavailableError);
    await expect(c.write(Buffer.from('lost\n\n'))).rejects.toThrow(AtsUnavailableError);
    const second = reader();
    await c.write(Buffer.from('two\n\n'));
    expect(drain(second).toString()).toBe('two\n\n');
  });

  it('after close every write fails', async () => {
    const c = channel();
    await c.prepare();
    reader();
    await c.write(Buffer.from('a\n\n'));
    await c.close();
    await expect(c.write(Buffer.from('b\n\n'))).rejects.toThrow(/closed/);
  });
});
