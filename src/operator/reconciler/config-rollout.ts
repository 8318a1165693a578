// Which configuration each pod's agent last applied (GET /v1/ring's optional configHash and
// lastReload, reported by agents started with --config-dir), and which pods are still on an
// older one well after the ConfigMap changed. Kubelet refreshes a mounted ConfigMap 60–120 s
// after the edit, so a pod is only called late past CONFIG_ROLLOUT_BOUND_MS from the moment
// this operator first saw the new content. Reports are pod input: malformed fields are ignored.
import type { GetRingResponse } from '../../agent/protocol.ts';

export const CONFIG_ROLLOUT_BOUND_MS = 3 * 60_000;
const CONFIG_HASH = /^sha256:[0-9a-f]{64}$/;
const MAX_RFC3339_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

export interface PodConfigReport {
  /** Hash of the mounted configuration the agent last applied. */
  readonly configHash?: string;
  /** When ATS last reloaded its configuration, as the agent saw it (ms since epoch). */
  readonly lastReloadAt?: number;
}

/** The optional config fields of an agent's ring report (older agents send none). */
export function configReportOf(ring: GetRingResponse): PodConfigReport {
  // The agent client checks the shape; the values are still the pod's word: checked again here.
  const report: { configHash?: string; lastReloadAt?: number } = {};
  if (typeof ring.configHash === 'string' && CONFIG_HASH.test(ring.configHash)) report.configHash = ring.configHash;
  const reload = ring.lastReload;
  if (reload && typeof reload.time === 'string' && reload.time.length <= 64) {
    const at = Date.parse(reload.time);
    // Within what an RFC 3339 timestamp can carry: the status schema would refuse the rest.
    if (Number.isFinite(at) && at >= 0 && at <= MAX_RFC3339_MS) report.lastReloadAt = at;
  }
  return report;
}

/** Per TicketKeySet: when the current ConfigMap content was first seen. */
export class ConfigRollout {
  private current: { hash: string; since: number } | undefined;

  /**
   * Pods reporting a configuration hash other than `configHash` more than the bound after that
   * content was first seen. Pods that report none (no --config-dir) are not judged.
   */
  latePods(configHash: string, reports: ReadonlyMap<string, PodConfigReport>, now: number, boundMs = CONFIG_ROLLOUT_BOUND_MS): string[] {
    if (this.current?.hash !== configHash) this.current = { hash: configHash, since: now };
    if (now - this.current.since < boundMs) return [];
    return [...reports]
      .filter(([, r]) => r.configHash !== undefined && r.configHash !== configHash)
      .map(([pod]) => pod)
      .sort();
  }
}
