// Session sharing's import channel: the agent writes the sessions other pods made into a FIFO the
// ticketkeys_bridge plugin reads every few ms (plugin.config `--session-import-fifo=<path>`), as
// binary messages (encodeSessionImportMessage, layout in plugin-wire.ts): no hex to write or
// parse. Unlike the SESSIONS_TAG lifecycle message it needs no relay through traffic_manager: one
// write of the agent, read by ATS's task thread on its next tick.
//
//   const ch = new SessionImportChannel('/run/trafficserver/ticketkeys-session-imports', { mode: 0o600 })
//   await ch.write(encodeSessionImportMessage(batch))   resolves once in the pipe
//   await ch.close()
//
// The agent creates the FIFO; only its owner may write it (mode 0600, or 0640 when ATS runs as
// another user of the agent's group): the plugin refuses to read a FIFO its group or others could
// write. It is opened O_WRONLY|O_NONBLOCK|O_NOFOLLOW on first use: ENXIO (nobody reads it: ATS is
// down or loaded without --session-import-fifo) fails the write, which the sharer counts as
// dropped. Writes queue in memory only up to BACKLOG_MAX_BYTES beyond what the pipe holds: a
// plugin that does not keep up makes later writes fail, never grow the agent's memory. The
// caller zeroes each payload after its write settled (libuv holds it until then).
import type { Socket } from 'node:net';
import { AtsUnavailableError } from '../ats-bridge.ts';
import { openFifoWriter, prepareFifo } from './fifo.ts';

/** Bytes waiting in the agent beyond the pipe's own buffer (64 KiB on Linux) before writes are refused. */
export const BACKLOG_MAX_BYTES = 256 * 1024;

export interface SessionImportChannelOptions {
  /** FIFO mode when the agent creates it (default 0o600; 0o640 when ATS runs as another user of the agent's group). */
  mode?: number;
}

export class SessionImportChannel {
  readonly path: string;
  readonly #mode: number;
  #socket: Socket | undefined;
  #opening: Promise<Socket> | undefined;
  #closed = false;

  constructor(path: string, options: SessionImportChannelOptions = {}) {
    const mode = options.mode ?? 0o600;
    // The plugin reads only a FIFO that its owner alone can write.
    if ((mode & ~0o640) !== 0) throw new Error(`session import FIFO mode ${mode.toString(8)}: only owner read/write and group read are allowed`);
    this.path = path;
    this.#mode = mode;
  }

  /** Creates the FIFO when missing (ATS can then open it before the first session arrives). */
  async prepare(): Promise<void> {
    await prepareFifo(this.path, this.#mode, 'session import FIFO');
  }

  /** Writes one payload (whole messages); resolves once it is in the pipe. */
  async write(payload: Buffer): Promise<void> {
    if (this.#socket?.destroyed) this.#socket = undefined;
    const socket = this.#socket ?? (await (this.#opening ??= this.#open().finally(() => (this.#opening = undefined))));
    if (socket.writableLength + payload.length > BACKLOG_MAX_BYTES) {
      throw new AtsUnavailableError('ATS is not reading the session import FIFO fast enough');
    }
    await new Promise<void>((resolve, reject) => {
      socket.write(payload, (err) => (err ? reject(new AtsUnavailableError(`writing the session import FIFO failed: ${err.message}`)) : resolve()));
    });
  }

  async #open(): Promise<Socket> {
    if (this.#closed) throw new AtsUnavailableError('the session import channel is closed');
    await this.prepare();
    let socket: Socket;
    try {
      socket = openFifoWriter(this.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') throw new AtsUnavailableError('nothing reads the session import FIFO (traffic_server down, or the plugin loaded without --session-import-fifo)');
      throw err;
    }
    // EPIPE (traffic_server went away): the next write opens the FIFO again.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
    });
    if (this.#closed) {
      socket.destroy();
      throw new AtsUnavailableError('the session import channel is closed');
    }
    this.#socket = socket;
    return socket;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening?.catch(() => undefined);
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }
}
