// Assembles a running operator: informers (started on every replica, so a standby has warm
// caches), the TicketKeySet controller and its reconciler, leader election (only the leader
// runs workers and writes; losing the Lease exits the process, as client-go's contract asks),
// the metrics/health server, and a clean shutdown on SIGTERM that releases the Lease.
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { TicketKeySet } from '../api/index.ts';
import { describeError } from '../observability/describe-error.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { watchTlsFiles } from '../tls/reloading-files.ts';
import { systemClock } from './runtime/clock.ts';
import { Controller } from './runtime/controller.ts';
import { HealthServer, informersSynced, loopAlive, reconcilesNotStuck, type HealthCheck } from './runtime/health.ts';
import { configMapInformer, managedSecretInformer, podInformer, ticketKeySetInformer } from './informers.ts';
import { EventRecorder } from './kube/event-recorder.ts';
import { PodReadinessGate } from './kube/pod-readiness.ts';
import { TICKETKEYSET } from './kube/resources.ts';
import { SecretStore } from './kube/secret-store.ts';
import { shareApiServerConnections } from './kube/shared-connections.ts';
import { ConfigMapReader } from './kube/config-map-reader.ts';
import { TicketKeySetStatusWriter } from './kube/status-writer.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import { mapByReference, mapBySelector, mapToControllerOwner, mapToSelf, specAndMetadataFingerprint } from './runtime/mappers.ts';
import { OwnWrites } from './runtime/own-writes.ts';
import { OperatorMetrics } from './metrics.ts';
import { AgentBreaker, withAgentDeadline } from './reconciler/agent-breaker.ts';
import { AgentPool } from './reconciler/agents.ts';
import { faultHookFromEnv } from './reconciler/fault.ts';
import { TicketKeySetReconciler } from './reconciler/reconciler.ts';
import { AgentPki } from './pki/agent-pki.ts';
import type { PkiPolicy } from '../core/pki/ca-rotation.ts';

/** A reconcile running longer than this fails liveness (a wedged worker). */
const RECONCILE_LIVENESS_MS = 5 * 60_000;
/**
 * After this, a reconcile dials no more agents. A reconcile then ends within it plus one agent
 * timeout and its remaining Kubernetes writes (each bounded by --kube-timeout): under the
 * liveness bound however many pods went dark at once.
 */
const RECONCILE_AGENT_DEADLINE_MS = 2 * 60_000;

export interface OperatorConfig {
  /** Kubeconfig file; default: in-cluster or $KUBECONFIG (KubeConfig.loadFromDefault). */
  kubeconfig?: string;
  /** Watched namespaces; empty = all. */
  namespaces: string[];
  /** host:port of /metrics, /healthz, /readyz (port 0 picks one). */
  metricsAddr: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionLease: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  identity: string;
  /** The operator's client certificate, its key and the agents' CA bundle, as files (reloaded). */
  agentTlsFiles?: { cert: string; key: string; ca: string };
  /** Or the operator-managed agent PKI: its CA Secret in leaderElectionNamespace. */
  agentPki?: { secretName: string; policy?: PkiPolicy; intervalMs?: number };
  /** How often the three agent TLS files are checked for new content (default 5 s). */
  agentTlsReloadMs?: number;
  agentTimeoutMs: number;
  /** Bound of every Kubernetes API request except leader election's (bounded by its retry period). */
  kubeTimeoutMs: number;
  /** Label selector of the pod informer (`--pod-label-selector`); empty: every pod in the watched namespaces. */
  podLabelSelector: string;
  workers: number;
  pushConcurrency: number;
  resyncMs: number;
  /** Pods still on an older configuration this long after a ConfigMap change are named (default 3 min). */
  configRolloutBoundMs?: number;
  logLevel: string;
}

export interface RunningOperator {
  /** Where /metrics, /healthz and /readyz are served. */
  metrics: { host: string; port: number };
  /** Stops workers (in-flight reconciles finish), releases the Lease, stops informers. */
  stop(): Promise<void>;
}

export async function runOperator(config: OperatorConfig, logger: Logger = createLogger({ component: 'operator', level: config.logLevel })): Promise<RunningOperator> {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  // Before any API client is made: every request and watch then shares kept-alive connections.
  const apiConnections = shareApiServerConnections(kc, (err) => logger.debug('closing API server connections failed', { err: describeError(err) }));
  const clock = systemClock;
  const fault = faultHookFromEnv();
  const scope = { namespaces: config.namespaces, requestTimeoutMs: config.kubeTimeoutMs, informer: { logger } };

  const ticketKeySets = ticketKeySetInformer<TicketKeySet & KubernetesObject>(kc, scope);
  const pods = podInformer(kc, { ...scope, labelSelector: config.podLabelSelector });
  const secrets = managedSecretInformer(kc, scope);
  const configMaps = configMapInformer(kc, scope);
  const informers = [ticketKeySets, pods, secrets, configMaps];

  const metrics = new OperatorMetrics({ clock, processMetrics: true });
  const agents = new AgentPool({ timeoutMs: config.agentTimeoutMs, logger });
  // Renewed client certificates and CA bundles (a CA rotation's overlap) apply without a restart.
  const tlsFiles = config.agentTlsFiles;
  const agentTls = tlsFiles
    ? await watchTlsFiles({
        what: 'operator client certificate and agent CA bundle',
        paths: [tlsFiles.cert, tlsFiles.key, tlsFiles.ca],
        apply: ([cert, key, ca]) => agents.setTls({ cert: cert!, key: key!, ca: ca! }),
        logger,
        ...(config.agentTlsReloadMs ? { intervalMs: config.agentTlsReloadMs } : {}),
      })
    : undefined;
  const pki = config.agentPki
    ? new AgentPki({
        kubeConfig: kc,
        secret: { namespace: config.leaderElectionNamespace, name: config.agentPki.secretName },
        ...(config.agentPki.policy ? { policy: config.agentPki.policy } : {}),
        ...(config.agentPki.intervalMs ? { intervalMs: config.agentPki.intervalMs } : {}),
        requestTimeoutMs: config.kubeTimeoutMs,
        pods,
        applyTls: (tls) => agents.setTls(tls),
        clock,
        logger,
        onIssued: (kind, reason) => metrics.ticketKeys.pkiIssued.inc({ kind, reason }),
        onError: (stage) => metrics.ticketKeys.pkiErrors.inc({ stage }),
      })
    : undefined;
  if (!tlsFiles && !pki) throw new Error('the operator needs agentTlsFiles or agentPki');
  // A pod of a workload the PKI has not seen yet gets its certificate soon, not at the next tick.
  if (pki) pods.on('add', () => pki.poke());
  pods.on('delete', (pod) => agents.forgetPod(pod.metadata?.uid ?? ''));
  // Black-holed agents fail fast between probes instead of costing a timeout per call.
  const agentBreaker = new AgentBreaker(agents, { clock });
  pods.on('delete', (pod) => agentBreaker.forgetPod(pod.metadata?.uid ?? ''));
  const kubeTimeout = { requestTimeoutMs: config.kubeTimeoutMs };
  const ownSecretWrites = new OwnWrites();
  const reconciler = new TicketKeySetReconciler({
    ticketKeySets,
    pods,
    secrets: new SecretStore({ kubeConfig: kc, ...kubeTimeout, ownWrites: ownSecretWrites }),
    status: new TicketKeySetStatusWriter({ kubeConfig: kc, ...kubeTimeout }),
    events: new EventRecorder({ kubeConfig: kc, reportingInstance: config.identity.slice(0, 128), clock, logger, ...kubeTimeout }),
    readiness: new PodReadinessGate({ kubeConfig: kc, clock, ...kubeTimeout }),
    agents: agentBreaker,
    metrics: metrics.ticketKeys,
    clock,
    fault,
    concurrency: config.pushConcurrency,
    resyncMs: config.resyncMs,
    ...(config.configRolloutBoundMs !== undefined ? { configRolloutBoundMs: config.configRolloutBoundMs } : {}),
    configMaps: new ConfigMapReader({ kubeConfig: kc, ...kubeTimeout }),
  });
  const controller = new Controller({
    name: 'ticketkeyset',
    // Past its agent deadline a reconcile dials no more agents: it always ends well within the liveness bound.
    reconcile: (key, ctx) => withAgentDeadline(clock.now() + RECONCILE_AGENT_DEADLINE_MS, () => reconciler.reconcile(key, ctx)),
    maxConcurrentReconciles: config.workers,
    clock,
    metrics: { workqueue: metrics.workqueue, controller: metrics.controller },
    logger,
  })
    // Neither the operator's own status writes nor its own Secret saves are news to it.
    .watch(ticketKeySets, mapToSelf, { fingerprint: specAndMetadataFingerprint })
    .watch(pods, mapBySelector(ticketKeySets, (t) => t.spec.selector))
    .watch(secrets, mapToControllerOwner(TICKETKEYSET), { ignoreUpdate: (s) => ownSecretWrites.isOwn(s) })
    .watch(configMaps, mapByReference(ticketKeySets, (t) => (t.spec.atsConfig?.configMapRef?.name ? [t.spec.atsConfig.configMapRef.name] : [])));

  // With the managed PKI the workers wait for the client certificate: a push without it only fails.
  const startWorkers = async (): Promise<void> => {
    if (pki) {
      await pods.waitForSync(); // the first pass needs the pods' workloads
      await pki.start();
    }
    await controller.start();
  };

  let elector: LeaderElector | undefined;
  const liveness: HealthCheck[] = [
    ...informers.map((i) => loopAlive(`informer-${i.name}`, i)),
    reconcilesNotStuck(controller, RECONCILE_LIVENESS_MS),
  ];
  if (config.leaderElect) {
    elector = new LeaderElector({
      kubeConfig: kc,
      namespace: config.leaderElectionNamespace,
      name: config.leaderElectionLease,
      identity: config.identity,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      clock,
      logger,
      onStartedLeading: () => {
        logger.info('became leader; starting workers', { identity: config.identity });
        startWorkers().catch((err: unknown) => logger.error('controller failed to start', { err }));
      },
      onStoppedLeading: (reason) => {
        if (reason === 'lost') {
          // Someone else may already be writing: stop at once, restart as a fresh candidate.
          logger.error('lost leadership; exiting');
          process.exit(1);
        }
      },
      onNewLeader: (identity) => logger.info('leader observed', { leader: identity }),
    });
    liveness.push(loopAlive('leader-election', elector));
  }

  const health = new HealthServer({ addr: config.metricsAddr, registry: metrics.registry, liveness, readiness: [informersSynced(informers)], logger });
  const bound = await health.listen();
  for (const i of informers) i.start();
  if (elector) elector.start();
  else void startWorkers().catch((err: unknown) => logger.error('controller failed to start', { err }));

  let stopping: Promise<void> | undefined;
  return {
    metrics: bound,
    stop: () =>
      (stopping ??= (async () => {
        logger.info('shutting down');
        // The rest of the shutdown (releasing the Lease above all) goes on whatever the workers did.
        await controller.stop().catch((err: unknown) => logger.warn('stopping the controller failed; shutting down anyway', { err: describeError(err) }));
        if (elector) await elector.stop();
        for (const i of informers) await i.stop();
        await pki?.stop();
        await agentTls?.stop();
        await agents.close();
        await apiConnections.close().catch((err: unknown) => logger.debug('closing API server connections failed', { err: describeError(err) }));
        await health.close();
      })()),
  };
}
