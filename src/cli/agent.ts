// `tko agent`: the in-pod sidecar that installs key rings into the ATS beside it.
// The implementation is imported when the command runs: every tko command registers here,
// and the agent's memory budget (80 MB RSS) leaves no room for modules it does not use.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatHostPort, parseHostPort, type HostPort } from '../agent/host-port.ts';
import { OPERATOR_IDENTITY } from '../agent/identity.ts';
import { AGENT_V8_FLAGS, applyV8Flags, parseV8Flags } from '../agent/runtime-flags.ts';

interface AgentFlags {
  listen: HostPort;
  healthListen: HostPort;
  atsRunroot?: string;
  tlsCert: string;
  tlsKey: string;
  clientCa: string;
  clientIdentity: string;
  tlsReloadIntervalMs: number;
  installer: 'ats' | 'memory';
  readbackTimeoutMs: number;
  reassertIntervalMs: number;
  configDir?: string;
  configDebounceMs?: number;
  ackFifo?: string;
  ackFifoMode: number;
  ackWaitMs: number;
  sessionFifo?: string;
  sessionImportFifo?: string;
  v8Flags: string[];
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function fifoMode(v: string): number {
  if (v !== '0600' && v !== '0620' && v !== '600' && v !== '620') throw new InvalidArgumentError('expected 0600 or 0620');
  return Number.parseInt(v, 8);
}

function v8Flags(v: string): string[] {
  try {
    return parseV8Flags(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function hostPort(v: string): HostPort {
  try {
    return parseHostPort(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run the in-pod agent: an mTLS API that installs session-ticket key rings into the local ATS')
    .requiredOption('--listen <host:port>', 'mTLS API address (the operator dials it)', hostPort)
    .addOption(
      new Option('--health-listen <host:port>', 'plain-HTTP /healthz, /readyz and /metrics address (kubelet probes, Prometheus)')
        .argParser(hostPort)
        .default(parseHostPort('127.0.0.1:9444'), '127.0.0.1:9444'),
    )
    .option('--ats-runroot <dir>', 'ATS runroot (directory with runroot.yaml, or the file) whose mgmtapi.sock to use')
    .requiredOption('--tls-cert <file>', 'agent serving certificate (PEM) whose URI SAN names this pod or its service account (docs/agent.md, trust model)')
    .requiredOption('--tls-key <file>', 'agent serving key (PEM)')
    .requiredOption('--client-ca <file>', 'operator CA bundle (PEM, one or more CA certificates) that signs the operator client certificate')
    .option('--client-identity <uri>', 'URI SAN the client certificate must carry', OPERATOR_IDENTITY)
    .option('--tls-reload-interval-ms <ms>', 'how often the three TLS files are checked for new content (reloaded without a restart)', positiveInt, 5000)
    .addOption(new Option('--installer <kind>', '"memory" only for benchmarks of the agent itself').choices(['ats', 'memory']).default('ats'))
    .option('--readback-timeout-ms <ms>', 'how long ATS gets to show a pushed ring before 504', positiveInt, 2000)
    .option('--reassert-interval-ms <ms>', 'how often ATS is checked for holding the accepted ring', positiveInt, 300)
    .option('--config-dir <dir>', "ATS's mounted config directory (ConfigMap volume): reloaded into ATS when it changes, keys verified after")
    .option('--config-debounce-ms <ms>', 'quiet time after a config directory change before it is read', positiveInt)
    .option(
      '--ack-fifo <path>',
      'FIFO (created when missing) where the ATS plugin confirms installs (plugin.config: ticketkeys_bridge.so --ack-fifo=<path>); without it installs are confirmed from the plugin stats (~300 ms later)',
    )
    .option('--ack-fifo-mode <mode>', '0600 (ATS runs as the agent\'s user) or 0620 (ATS runs as another user of the agent\'s group)', fifoMode, 0o600)
    .option('--ack-wait-ms <ms>', 'how long an install waits for the plugin\'s ack before confirming from the stats', positiveInt, 500)
    .option(
      '--session-fifo <path>',
      'FIFO (created when missing, mode as --ack-fifo-mode) from which the agent reads the TLS sessions ATS creates while the operator has session sharing on (plugin.config: ticketkeys_bridge.so --session-fifo=<path>); without it this pod cannot share sessions',
    )
    .option(
      '--session-import-fifo <path>',
      'FIFO (created when missing; 0600, or 0640 with --ack-fifo-mode 0620) through which the agent hands ATS the sessions other pods share (plugin.config: ticketkeys_bridge.so --session-import-fifo=<path>); without it they go as messages relayed by traffic_manager, which costs more CPU per session',
    )
    .addOption(
      new Option('--v8-flags <flags>', 'V8 flags the agent sets on itself at start ("" for V8\'s defaults; see src/agent/runtime-flags.ts)')
        .env('TKO_AGENT_V8_FLAGS')
        .argParser(v8Flags)
        .default(parseV8Flags(AGENT_V8_FLAGS), AGENT_V8_FLAGS),
    )
    .action(async (flags: AgentFlags, command: Command) => {
      if (flags.installer === 'ats' && !flags.atsRunroot) command.error('error: --ats-runroot is required with --installer ats');
      await runAgent(flags);
    });
}

async function runAgent(flags: AgentFlags): Promise<void> {
  // Before the agent's modules load and anything gets hot (see runtime-flags.ts).
  applyV8Flags(flags.v8Flags);
  const [{ startAgent }, { createLogger }] = await Promise.all([
    import('../agent/agent.ts'),
    import('../observability/logger.ts'),
  ]);
  const logger = createLogger({ component: 'agent' });
  (await import('../agent/core-dump-guard.ts')).warnIfCoreDumpsEnabled(logger); // keys in memory: no core files
  logger.debug('runtime', { v8Flags: flags.v8Flags, nodeOptions: process.env.NODE_OPTIONS ?? '' });
  let bridge;
  if (flags.installer === 'memory') {
    // Scale benchmarks and tests of the agent itself only: nothing reaches ATS.
    logger.warn('installer "memory": rings are kept in this process and never reach ATS');
    bridge = new (await import('../agent/memory-bridge.ts')).MemoryBridge();
  } else {
    const { Ats9Bridge } = await import('../agent/ats9/ats9-bridge.ts');
    bridge = await Ats9Bridge.fromRunroot(flags.atsRunroot!, {
      logger,
      ackWaitMs: flags.ackWaitMs,
      ...(flags.ackFifo === undefined ? {} : { ackFifo: flags.ackFifo, ackFifoMode: flags.ackFifoMode }),
      ...(flags.sessionFifo === undefined ? {} : { sessionFifo: flags.sessionFifo, sessionFifoMode: flags.ackFifoMode }),
      // Only the agent writes it: ATS, when another user of the group, gets read access, never write.
      ...(flags.sessionImportFifo === undefined ? {} : { sessionImportFifo: flags.sessionImportFifo, sessionImportFifoMode: flags.ackFifoMode & 0o060 ? 0o640 : 0o600 }),
    });
  }
  const agent = await startAgent({
    listen: flags.listen,
    healthListen: flags.healthListen,
    tlsFiles: { cert: flags.tlsCert, key: flags.tlsKey, clientCa: flags.clientCa, reloadIntervalMs: flags.tlsReloadIntervalMs },
    bridge,
    logger,
    clientIdentity: flags.clientIdentity,
    readbackDeadlineMs: flags.readbackTimeoutMs,
    reassertIntervalMs: flags.reassertIntervalMs,
    ...(flags.configDir === undefined ? {} : { configDir: flags.configDir }),
    ...(flags.configDebounceMs === undefined ? {} : { configDebounceMs: flags.configDebounceMs }),
  });
  // Machine-readable, whatever the log level: where the agent listens (ports may be :0).
  process.stdout.write(`${JSON.stringify({ event: 'listening', api: formatHostPort(agent.api), health: formatHostPort(agent.health) })}\n`);
  const stop = (signal: string) => {
    logger.info('stopping', { signal });
    agent.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('stop failed', { error: err }); // the logger describes errors in one line
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
