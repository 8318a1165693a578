// Assembles a running operator: informers (started on every replica, so a standby has warm
// caches), the TicketKeySet controller and its reconciler, leader election (only the leader
// runs workers and writes; losing the Lease exits the process, as client-go's contract asks),
// the metrics/health server, and a clean shutdown on SIGTERM that releases the Lease.
import { readFile } from 'node:fs/promises';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { TicketKeySet } from '../api/index.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { systemClock } from './clock.ts';
import { Controller } from './controller.ts';
import { HealthServer, informersSynced, loopAlive, reconcilesNotStuck, type HealthCheck } from './health.ts';
import { configMapInformer, managedSecretInformer, podInformer, ticketKeySetInformer } from './informers.ts';
import { EventRecorder } from './kube/event-recorder.ts';
import { PodReadinessGate } from './kube/pod-readiness.ts';
import { TICKETKEYSET } from './kube/resources.ts';
import { SecretStore } from './kube/secret-store.ts';
import { TicketKeySetStatusWriter } from './kube/status-writer.ts';
import { LeaderElector } from './leader-election.ts';
import { mapByReference, mapBySelector, mapToControllerOwner, mapToSelf } from './mappers.ts';
import { OperatorMetrics } from './metrics.ts';
import { AgentPool } from './reconciler/agents.ts';
import { faultHookFromEnv } from './reconciler/fault.ts';
import { TicketKeySetReconciler } from './reconciler/reconciler.ts';

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
  agentClientCert: string;
  agentClientKey: string;
  agentCa: string;
  agentTimeoutMs: number;
  workers: number;
  pushConcurrency: number;
  resyncMs: number;
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
  const clock = systemClock;
  const fault = faultHookFromEnv();
  const scope = { namespaces: config.namespaces, informer: { logger } };

  const ticketKeySets = ticketKeySetInformer<TicketKeySet & KubernetesObject>(kc, scope);
  const pods = podInformer(kc, scope);
  const secrets = managedSecretInformer(kc, scope);
  const configMaps = configMapInformer(kc, scope);
  const informers = [ticketKeySets, pods, secrets, configMaps];

  const metrics = new OperatorMetrics({ clock, processMetrics: true });
  const agents = new AgentPool({
    tls: { cert: await readFile(config.agentClientCert), key: await readFile(config.agentClientKey), ca: await readFile(config.agentCa) },
    timeoutMs: config.agentTimeoutMs,
  });
  const reconciler = new TicketKeySetReconciler({
    ticketKeySets,
    pods,
    secrets: new SecretStore({ kubeConfig: kc }),
    status: new TicketKeySetStatusWriter({ kubeConfig: kc }),
    events: new EventRecorder({ kubeConfig: kc, reportingInstance: config.identity.slice(0, 128), clock, logger }),
    readiness: new PodReadinessGate({ kubeConfig: kc, clock }),
    agents,
    metrics: metrics.ticketKeys,
    clock,
    fault,
    concurrency: config.pushConcurrency,
    resyncMs: config.resyncMs,
  });
  const controller = new Controller({
    name: 'ticketkeyset',
    reconcile: reconciler.reconcile,
    maxConcurrentReconciles: config.workers,
    clock,
    metrics: { workqueue: metrics.workqueue, controller: metrics.controller },
    logger,
  })
    .watch(ticketKeySets, mapToSelf)
    .watch(pods, mapBySelector(ticketKeySets, (t) => t.spec.selector))
    .watch(secrets, mapToControllerOwner(TICKETKEYSET))
    .watch(configMaps, mapByReference(ticketKeySets, (t) => (t.spec.atsConfig?.configMapRef?.name ? [t.spec.atsConfig.configMapRef.name] : [])));

  let elector: LeaderElector | undefined;
  const liveness: HealthCheck[] = [
    ...informers.map((i) => loopAlive(`informer-${i.name}`, i)),
    reconcilesNotStuck(controller, 5 * 60_000),
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
        controller.start().catch((err: unknown) => logger.error('controller failed to start', { err }));
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
  else void controller.start().catch((err: unknown) => logger.error('controller failed to start', { err }));

  let stopping: Promise<void> | undefined;
  return {
    metrics: bound,
    stop: () =>
      (stopping ??= (async () => {
        logger.info('shutting down');
        await controller.stop().catch(() => {});
        if (elector) await elector.stop();
        for (const i of informers) await i.stop();
        await agents.close();
        await health.close();
      })()),
  };
}
