// `tko operator`: runs the TicketKeySet controller. Flags are the ones the Helm chart passes
// (src/manifests/operator-deployment.ts OPERATOR_FLAGS) plus tuning knobs with sane defaults.
// The implementation loads when the command runs.
import type { Command } from 'commander';

interface OperatorFlags {
  kubeconfig?: string;
  namespaces: string;
  metricsAddr: string;
  leaderElect: string;
  leaderElectionNamespace?: string;
  leaderElectionLease: string;
  leaderElectionLeaseDuration: string;
  leaderElectionRenewDeadline: string;
  leaderElectionRetryPeriod: string;
  identity?: string;
  agentClientCert: string;
  agentClientKey: string;
  agentCa: string;
  agentTimeout: string;
  workers: string;
  pushConcurrency: string;
  resyncPeriod: string;
  logLevel: string;
}

export function registerOperator(program: Command): void {
  program
    .command('operator')
    .description('run the operator: rotates the session-ticket keys of the pods every TicketKeySet selects')
    .option('--kubeconfig <file>', 'kubeconfig file (default: in-cluster, or $KUBECONFIG)')
    .option('--namespaces <list>', 'comma-separated namespaces to watch; empty watches all', '')
    .option('--metrics-addr <host:port>', 'address of /metrics, /healthz and /readyz', ':8080')
    .option('--leader-elect <bool>', 'elect a leader with a Lease (true|false)', 'true')
    .option('--leader-election-namespace <ns>', 'namespace of the Lease (default $POD_NAMESPACE, else default)')
    .option('--leader-election-lease <name>', 'name of the Lease', 'ticket-key-operator')
    .option('--leader-election-lease-duration <duration>', 'Lease duration', '15s')
    .option('--leader-election-renew-deadline <duration>', 'leader gives up if it cannot renew within this', '10s')
    .option('--leader-election-retry-period <duration>', 'interval between Lease attempts', '2s')
    .option('--identity <id>', 'leader-election identity and Event reportingInstance (default: hostname_uuid)')
    .requiredOption('--agent-client-cert <file>', 'PEM client certificate for the agents\' mutual TLS')
    .requiredOption('--agent-client-key <file>', 'PEM key of that certificate')
    .requiredOption('--agent-ca <file>', 'PEM CA that signs the agents\' serving certificates')
    .option('--agent-timeout <duration>', 'timeout of each agent request (reads, pushes)', '5s')
    .option('--workers <n>', 'TicketKeySets reconciled at once', '4')
    .option('--push-concurrency <n>', 'agents talked to at once per reconcile', '16')
    .option('--resync-period <duration>', 'look at every TicketKeySet at least this often (drift detection)', '60s')
    .option('--log-level <level>', 'error, warn, info or debug', 'info')
    .action(async (flags: OperatorFlags) => {
      const [{ runOperator }, { parseDuration }, { parseNamespaces }, { candidateIdentity }, { createLogger }] = await Promise.all([
        import('../operator/run.ts'),
        import('../core/duration.ts'),
        import('../operator/informers.ts'),
        import('../operator/leader-election.ts'),
        import('../observability/logger.ts'),
      ]);
      const logger = createLogger({ component: 'operator', level: flags.logLevel });
      const positive = (name: string, v: string): number => {
        const n = Number(v);
        if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
        return n;
      };
      const bool = (name: string, v: string): boolean => {
        if (v === 'true') return true;
        if (v === 'false') return false;
        throw new Error(`${name} must be true or false, got ${JSON.stringify(v)}`);
      };
      const f = flags;
      const running = await runOperator(
        {
          ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
          namespaces: parseNamespaces(flags.namespaces),
          metricsAddr: flags.metricsAddr,
          leaderElect: bool('--leader-elect', flags.leaderElect),
          leaderElectionNamespace: flags.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? 'default',
          leaderElectionLease: flags.leaderElectionLease,
          leaseDurationMs: parseDuration(f.leaderElectionLeaseDuration),
          renewDeadlineMs: parseDuration(f.leaderElectionRenewDeadline),
          retryPeriodMs: parseDuration(f.leaderElectionRetryPeriod),
          identity: flags.identity ?? candidateIdentity(),
          agentClientCert: flags.agentClientCert,
          agentClientKey: flags.agentClientKey,
          agentCa: flags.agentCa,
          agentTimeoutMs: parseDuration(flags.agentTimeout),
          workers: positive('--workers', flags.workers),
          pushConcurrency: positive('--push-concurrency', flags.pushConcurrency),
          resyncMs: parseDuration(flags.resyncPeriod),
          logLevel: flags.logLevel,
        },
        logger,
      );
      // One machine-readable line on stdout once serving (tests read the bound port from it).
      process.stdout.write(`${JSON.stringify({ event: 'listening', metrics: `${running.metrics.host}:${running.metrics.port}` })}\n`);
      let signalled = false;
      const shutdown = (signal: string) => {
        if (signalled) return;
        signalled = true;
        logger.info('received signal', { signal });
        running.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error('shutdown failed', { err });
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
