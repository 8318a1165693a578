// `tko operator`: runs the TicketKeySet controller. Flags are the ones the Helm chart passes
// (src/manifests/operator-deployment.ts OPERATOR_FLAGS) plus tuning knobs with sane defaults.
// The implementation loads when the command runs.
import type { Command } from 'commander';
import { DEFAULT_POD_LABEL_SELECTOR } from '../api/names.ts';

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
  agentClientCert?: string;
  agentClientKey?: string;
  agentCa?: string;
  agentPkiSecret?: string;
  agentPkiCaValidity: string;
  agentPkiCertValidity: string;
  agentPkiPropagation: string;
  agentPkiInterval: string;
  agentTlsReloadInterval: string;
  agentTimeout: string;
  kubeTimeout: string;
  podLabelSelector: string;
  workers: string;
  pushConcurrency: string;
  resyncPeriod: string;
  configRolloutBound: string;
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
    .option('--agent-client-cert <file>', 'PEM client certificate for the agents\' mutual TLS (URI SAN spiffe://ticketkeys.dev/operator, clientAuth); with --agent-client-key and --agent-ca, or use --agent-pki-secret')
    .option('--agent-client-key <file>', 'PEM key of that certificate')
    .option('--agent-ca <file>', 'PEM operator CA bundle (one or more CA certificates) that signs the agents\' serving certificates')
    .option('--agent-pki-secret <name>', 'operator-managed agent PKI instead of the three files: the CA lives in this Secret of the leader-election namespace; agents get Secrets ticketkeys-agent-<serviceAccount> (docs/agent.md)')
    .option('--agent-pki-ca-validity <duration>', 'lifetime of each agent CA (rotated at two thirds, with an overlap)', '8760h')
    .option('--agent-pki-cert-validity <duration>', 'lifetime of the agents\' certificates (renewed at two thirds)', '720h')
    .option('--agent-pki-propagation <duration>', 'how long a new CA is only trusted before it signs (longer than kubelet\'s Secret sync)', '5m')
    .option('--agent-pki-interval <duration>', 'how often the PKI checks its CA and certificates', '30s')
    .option('--agent-tls-reload-interval <duration>', 'how often the three agent TLS files are checked for new content (reloaded without a restart)', '5s')
    .option('--agent-timeout <duration>', 'timeout of each agent request (reads, pushes)', '5s')
    .option('--kube-timeout <duration>', 'timeout of each Kubernetes API request (lists, reads, writes, Events)', '15s')
    .option(
      '--pod-label-selector <selector>',
      'label selector of the pods the operator lists and watches; only pods matching it can be targeted ("" = every pod in the watched namespaces)',
      DEFAULT_POD_LABEL_SELECTOR,
    )
    .option('--workers <n>', 'TicketKeySets reconciled at once', '4')
    .option('--push-concurrency <n>', 'agents talked to at once per reconcile', '16')
    .option('--resync-period <duration>', 'look at every TicketKeySet this often (drift detection; these looks wait behind changes)', '60s')
    .option('--config-rollout-bound <duration>', 'how long after the referenced ConfigMap changed ConfigConsistent waits before naming pods still on the older configuration', '3m')
    .option('--log-level <level>', 'error, warn, info or debug', 'info')
    .action(async (flags: OperatorFlags) => {
      const [{ runOperator }, { parseDuration }, { parseNamespaces }, { candidateIdentity }, { createLogger }] = await Promise.all([
        import('../operator/run.ts'),
        import('../core/duration.ts'),
        import('../operator/informers.ts'),
        import('../operator/runtime/leader-election.ts'),
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
      const files = [f.agentClientCert, f.agentClientKey, f.agentCa].filter((x) => x !== undefined).length;
      if (f.agentPkiSecret !== undefined ? files > 0 : files !== 3) {
        throw new Error('give either --agent-pki-secret or all three of --agent-client-cert, --agent-client-key and --agent-ca');
      }
      const configRolloutBoundMs = parseDuration(flags.configRolloutBound);
      if (configRolloutBoundMs < 0) throw new Error(`--config-rollout-bound must not be negative, got ${JSON.stringify(flags.configRolloutBound)}`);
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
          ...(f.agentPkiSecret !== undefined
            ? {
                agentPki: {
                  secretName: f.agentPkiSecret,
                  policy: {
                    caValidityMs: parseDuration(f.agentPkiCaValidity),
                    certValidityMs: parseDuration(f.agentPkiCertValidity),
                    propagationMs: parseDuration(f.agentPkiPropagation),
                  },
                  intervalMs: parseDuration(f.agentPkiInterval),
                },
              }
            : { agentTlsFiles: { cert: f.agentClientCert!, key: f.agentClientKey!, ca: f.agentCa! } }),
          agentTlsReloadMs: parseDuration(flags.agentTlsReloadInterval),
          agentTimeoutMs: parseDuration(flags.agentTimeout),
          kubeTimeoutMs: parseDuration(flags.kubeTimeout),
          podLabelSelector: flags.podLabelSelector.trim(),
          workers: positive('--workers', flags.workers),
          pushConcurrency: positive('--push-concurrency', flags.pushConcurrency),
          resyncMs: parseDuration(flags.resyncPeriod),
          configRolloutBoundMs,
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
