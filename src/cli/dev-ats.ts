// `tko dev ats --dir DIR --addr 127.0.0.N [--port P]`: a private ATS instance with the bridge
// plugin, in the foreground until SIGINT/SIGTERM. Prints one JSON line with its addresses.
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { DEFAULT_TLS_PORT, startAts } from '../dev/ats.ts';

export function registerDevAts(dev: Command): void {
  dev
    .command('ats')
    .description('run a private ATS 9 instance (bridge plugin loaded, self-signed cert, local origin) until interrupted')
    .requiredOption('--dir <dir>', 'runroot directory (created)')
    .requiredOption('--addr <addr>', 'loopback address to bind, 127.0.0.N')
    .option('--port <port>', 'TLS port', (v) => parsePort(v), DEFAULT_TLS_PORT)
    .option('--key-file <path>', 'absolute proxy.config.ssl.server.ticket_key.filename (leave unset normally)')
    .option('--debug-tags <tags>', "ATS debug tags, e.g. 'ticketkeys|ssl'")
    .option('--ack-fifo <path>', "the plugin's ack FIFO (give the agent the same --ack-fifo); default <dir>/run/ticketkeys-acks")
    .option('--no-ack-fifo', 'load the plugin without an ack channel (the agent confirms installs from the stats)')
    .action(async (opts: { dir: string; addr: string; port: number; keyFile?: string; debugTags?: string; ackFifo: string | boolean }) => {
      const ackFifo = opts.ackFifo === false ? undefined : typeof opts.ackFifo === 'string' ? resolve(opts.ackFifo) : join(resolve(opts.dir), 'run', 'ticketkeys-acks');
      const ats = await startAts({
        dir: opts.dir,
        addr: opts.addr,
        port: opts.port,
        keyFile: opts.keyFile,
        debugTags: opts.debugTags,
        ...(ackFifo ? { pluginArgs: [`--ack-fifo=${ackFifo}`] } : {}),
      });
      process.stdout.write(
        `${JSON.stringify({
          addr: ats.addr,
          tlsPort: ats.tlsPort,
          runroot: ats.runroot,
          mgmtSocket: ats.mgmtSocket,
          originPort: ats.originPort,
          certFile: join(ats.runroot, 'certs', 'cert.pem'),
          logDir: ats.logDir,
          ...(ackFifo ? { ackFifo } : {}),
        })}\n`,
      );
      const keepAlive = setInterval(() => undefined, 1 << 30);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      clearInterval(keepAlive);
      await ats.stop();
    });
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`invalid port: ${v}`);
  return n;
}
