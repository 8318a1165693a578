// The FIFOs the agent shares with the ticketkeys_bridge plugin (ack, session export, session
// import): the agent creates each one (mode given; owner and group bits only), refuses a path that
// is anything else (a file, a symlink) or a FIFO of another owner, and uses it non-blocking
// through libuv's event loop as a net.Socket.
import { execFile } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { chmod, lstat } from 'node:fs/promises';
import { Socket, type OnReadOpts } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Creates the FIFO when missing (mode `mode`), refuses anything else at the path or another owner's FIFO, sets its mode. */
export async function prepareFifo(path: string, mode: number, what: string): Promise<void> {
  if (!path.startsWith('/')) throw new Error(`${what} must be an absolute path: ${path}`);
  if ((mode & ~0o660) !== 0) throw new Error(`${what} mode ${mode.toString(8)}: only owner and group bits are allowed`);
  let st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (st === null) {
    // Node has no mkfifo(2); coreutils' mkfifo, no shell, the path as one argument.
    await run('mkfifo', ['-m', mode.toString(8), '--', path]);
    st = await lstat(path);
  }
  if (!st.isFIFO()) throw new Error(`${what} ${path} exists and is not a FIFO`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${what} ${path} belongs to uid ${st.uid}, not this agent (uid ${uid})`);
  await chmod(path, mode);
}

/**
 * The FIFO (prepared as above) opened for reading. O_RDWR: the agent's own write end keeps the
 * reader from seeing end-of-file whenever the plugin is not writing. With `onread`, libuv reads
 * into its buffer and calls its callback instead of emitting 'data' (net.Socket's onread; the
 * callback's false stops reading until socket.resume()).
 */
export async function openFifoReader(path: string, mode: number, what: string, onread?: OnReadOpts): Promise<Socket> {
  await prepareFifo(path, mode, what);
  return fifoSocket(openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW), 'read', onread);
}

/**
 * An already prepared FIFO opened for writing; throws ENXIO (from openSync) when nothing reads
 * it. The caller handles the socket's errors (EPIPE when the reader goes away).
 */
export function openFifoWriter(path: string): Socket {
  return fifoSocket(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW), 'write');
}

function fifoSocket(fd: number, direction: 'read' | 'write', onread?: OnReadOpts): Socket {
  try {
    return new Socket({ fd, readable: direction === 'read', writable: direction === 'write', ...(onread ? { onread } : {}) });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
