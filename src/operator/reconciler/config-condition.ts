// ConfigConsistent, when spec.atsConfig.configMapRef is set (no condition otherwise), with an
// Event on each change of reason: Warning while not consistent, Normal when back to Consistent.
// A ConfigMap that cannot be read now (API error, timeout) keeps the last published condition.
// Runs after the pushes: reading and judging the ATS configuration never delays key delivery.
import type { DefaultedTicketKeySetSpec, TicketKeySet } from '../../api/index.ts';
import { CONDITION_CONFIG_CONSISTENT } from '../../api/names.ts';
import type { ConfigConsistentCondition } from '../../core/ats-config/consistency.ts';
import { formatDuration } from '../../core/duration.ts';
import { namePods, type Condition, type EventAction, type RotationPolicy } from '../../core/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { ConfigMapPort } from '../kube/config-map-reader.ts';
import type { Clock } from '../runtime/clock.ts';
import { ConfigConsistencyChecker } from './config-consistency.ts';
import { ConfigRollout, CONFIG_ROLLOUT_BOUND_MS, type PodConfigReport } from './config-rollout.ts';

export class ConfigConditions {
  private readonly check: ConfigConsistencyChecker;
  /** Per TicketKeySet: when its ConfigMap's current content was first seen. */
  private readonly rollouts = new Map<string, ConfigRollout>();
  private readonly boundMs: number;
  private readonly clock: Clock;

  constructor(configMaps: ConfigMapPort, clock: Clock, boundMs: number = CONFIG_ROLLOUT_BOUND_MS) {
    this.check = new ConfigConsistencyChecker(configMaps);
    this.clock = clock;
    this.boundMs = boundMs;
  }

  async condition(
    tks: TicketKeySet,
    spec: DefaultedTicketKeySetSpec,
    policy: RotationPolicy,
    configReports: ReadonlyMap<string, PodConfigReport>,
    record: (e: EventAction) => Promise<void>,
    log: Logger,
  ): Promise<Condition | undefined> {
    const name = spec.atsConfig?.configMapRef?.name;
    if (!name) return undefined;
    const previous = tks.status?.conditions?.find((c) => c.type === CONDITION_CONFIG_CONSISTENT);
    let condition: ConfigConsistentCondition;
    try {
      const check = await this.check.check({
        ref: { namespace: tks.metadata.namespace ?? '', name },
        ticketLifetimeMs: policy.ticketLifetimeMs,
        fileFallbackEnabled: spec.fileFallback.enabled,
      });
      condition = check.condition;
      if (check.configHash !== undefined) condition = this.withLatePods(tks, condition, check.configHash, configReports);
    } catch (err) {
      log.warn('could not read the referenced ConfigMap; keeping the last ConfigConsistent condition', { configMap: name, error: err instanceof Error ? err.message : String(err) });
      return previous ? { type: CONDITION_CONFIG_CONSISTENT, status: previous.status, reason: previous.reason, message: previous.message } : undefined;
    }
    const consistent = condition.status === 'True';
    if (previous?.reason !== condition.reason && (!consistent || previous)) {
      await record({ kind: 'event', type: consistent ? 'Normal' : 'Warning', reason: condition.reason === 'Consistent' ? 'ConfigConsistent' : condition.reason, message: condition.message });
    }
    return condition;
  }

  /** Drops what is kept for a set that is gone, and parses of ConfigMaps no set references. */
  forget(set: string, referenced: Iterable<string>): void {
    this.rollouts.delete(set);
    this.check.retain(referenced);
  }

  /** Names, in the condition's message, the pods still on an older configuration past the bound. */
  private withLatePods(tks: TicketKeySet, condition: ConfigConsistentCondition, configHash: string, reports: ReadonlyMap<string, PodConfigReport>): ConfigConsistentCondition {
    const key = `${tks.metadata.namespace ?? ''}/${tks.metadata.name ?? ''}`;
    let rollout = this.rollouts.get(key);
    if (!rollout) this.rollouts.set(key, (rollout = new ConfigRollout()));
    const late = rollout.latePods(configHash, reports, this.clock.now(), this.boundMs);
    if (late.length === 0) return condition;
    const note = `pods still on an older configuration ${formatDuration(this.boundMs)} after ${configHash.slice(0, 19)}… was first seen: ${namePods(late)}`;
    return { ...condition, message: `${condition.message}; ${note}` };
  }
}
