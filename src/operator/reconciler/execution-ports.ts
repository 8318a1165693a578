// The I/O behind executeActions (execute.ts) for one reconcile of one TicketKeySet: the Secret
// write (persist), pushes and flushes to the set's agents, Events, push metrics and logs.
import type { TicketKeySet } from '../../api/index.ts';
import type { EventAction, RotationState } from '../../core/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { TicketKeyMetrics } from '../metrics.ts';
import type { Clock } from '../runtime/clock.ts';
import type { SecretStore } from '../kube/secret-store.ts';
import type { AgentPort } from './agents.ts';
import { ROTATION_RESULTS } from './event-reasons.ts';
import type { ExecutionPorts, PushResult } from './execute.ts';
import type { FaultHook } from './fault.ts';
import type { OwnedSecret } from './load.ts';
import { agentAddress, type TargetPod } from './pods.ts';
import type { RotationTiming } from './rotation-timing.ts';

export interface PortsInput {
  readonly tks: TicketKeySet;
  readonly secrets: Pick<SecretStore, 'save'>;
  /** The owned Secret as loaded; each persist replaces `stored` with what was written. */
  readonly secret: OwnedSecret;
  /** The state the step being executed started from. */
  readonly current: () => RotationState;
  readonly timing: RotationTiming;
  readonly targets: ReadonlyMap<string, TargetPod>;
  readonly agentPort: number;
  readonly agents: AgentPort;
  readonly record: (e: EventAction) => Promise<void>;
  readonly pushMetricResult: (r: PushResult, err: unknown) => 'success' | 'error' | 'timeout' | 'rejected';
  readonly metrics: TicketKeyMetrics | undefined;
  readonly fault: FaultHook | undefined;
  readonly clock: Clock;
  readonly log: Logger;
}

export function executionPorts(p: PortsInput): ExecutionPorts {
  return {
    now: () => p.clock.now(),
    persist: persistPort(p),
    push: async (podName, request) => {
      const pod = p.targets.get(podName);
      if (!pod) throw new Error(`pod ${podName} is no longer a target`);
      const res = await p.agents.putRing(agentAddress(pod, p.agentPort), request);
      return { generation: res.generation, ringFingerprint: res.ringFingerprint };
    },
    flushSessionCache: async (podName) => {
      const pod = p.targets.get(podName);
      if (pod) await p.agents.flushSessionCache(agentAddress(pod, p.agentPort));
    },
    event: async (e) => {
      await p.record(e);
      const result = ROTATION_RESULTS[e.reason];
      if (result) p.metrics?.recordRotation(result);
    },
    pushed: (pod, result, seconds, err) => {
      p.metrics?.recordPush(p.pushMetricResult(result, err), seconds);
      if ('error' in result) p.log.warn('push failed', { pod, error: result.error });
      else p.log.debug('push acknowledged', { pod, generation: result.ack.generation, ringFingerprint: result.ack.ringFingerprint });
    },
    ...(p.fault ? { fault: p.fault } : {}),
  };
}

// ---- state → Secret (loadSecret in load.ts reads it back) ----
function persistPort(p: PortsInput): ExecutionPorts['persist'] {
  const { tks, secret } = p;
  return async (next) => {
    secret.stored = await p.secrets.save(secret.ref, { name: tks.metadata.name ?? '', uid: tks.metadata.uid ?? '' }, next, secret.stored);
    p.timing.persisted(p.current(), next, p.clock.now());
    p.log.info('persisted ticket-key state', { generation: next.generation, phase: next.phase, fingerprints: next.keys.map((k) => `${k.material.fingerprint}:${k.state}`) });
  };
}
