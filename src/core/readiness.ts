// The keys-installed readiness gate, decided per pod. Fail open: the gate keeps newcomers out
// of service until they hold the ring, but a pod that is already serving is never taken out
// because the operator cannot reach its agent, or because its agent is slow, or because it lags
// a ring behind (its ring is one the fleet can decrypt: promotion waits for it). A serving pod is
// taken out only when its agent answered and showed a ring the fleet cannot decrypt (nothing
// pushed since ATS started, or a generation the operator never issued), and only while fewer than
// `maxUnavailable` target pods are unavailable: the bound keeps capacity, and a pod left in
// service on a foreign ring costs full handshakes on that pod, never failed connections.
import { holdsRing, type PodAck, type PodObservation } from './observations.ts';

export interface GatePod {
  readonly observation: PodObservation;
  /** The pod lists the keys-installed readiness gate. */
  readonly declaresGate: boolean;
  /** Our condition is True on the pod now (it was let into service). */
  readonly gateTrue: boolean;
}

export interface GateDecision {
  readonly pod: string;
  readonly status: boolean;
  readonly reason: 'RingInstalled' | 'RingBehind' | 'AgentUnreachable' | 'RingNotDecryptable';
  readonly message: string;
}

export interface GateDecisions {
  /** Conditions to write; pods not listed keep what they have. */
  readonly updates: readonly GateDecision[];
  /** Serving pods that hold a ring the fleet cannot decrypt but stay in service: the bound is reached. */
  readonly heldByBudget: readonly string[];
}

/**
 * `unavailable`: target pods that are not Ready now (for whatever reason: they count against
 * the bound). `current`: the ring every pod should hold.
 */
export function decideGates(pods: readonly GatePod[], current: PodAck | undefined, maxUnavailable: number, unavailable: number): GateDecisions {
  const updates: GateDecision[] = [];
  const heldByBudget: string[] = [];
  let budget = Math.max(0, maxUnavailable - unavailable);
  const gen = current?.generation ?? 0;
  for (const { observation: o, declaresGate, gateTrue } of [...pods].sort((a, b) => (a.observation.name < b.observation.name ? -1 : 1))) {
    if (!declaresGate || o.terminating) continue;
    if (current && !o.ackStale && holdsRing(o, current.generation, current.ringFingerprint)) {
      updates.push({ pod: o.name, status: true, reason: 'RingInstalled', message: `the agent holds the current ring (generation ${gen})` });
      continue;
    }
    if (!gateTrue) {
      // Not in service yet (a newcomer, or taken out earlier): it stays out until it holds the ring.
      updates.push(
        o.readFailed
          ? { pod: o.name, status: false, reason: 'AgentUnreachable', message: `the agent did not acknowledge generation ${gen}` }
          : { pod: o.name, status: false, reason: 'RingBehind', message: `the agent reports generation ${o.acked?.generation ?? 0}; current is ${gen}` },
      );
      continue;
    }
    // Serving. Unreachable, slow or lagging on an issued ring: fail open, leave it alone. Only
    // an agent that answered and showed nothing pushed, or a generation never issued, counts.
    const foreign = !o.readFailed && (o.rejectedAck !== undefined || o.acked === undefined);
    if (!foreign) continue;
    if (budget > 0) {
      budget -= 1;
      updates.push({
        pod: o.name,
        status: false,
        reason: 'RingNotDecryptable',
        message:
          o.rejectedAck !== undefined
            ? `the agent reports generation ${o.rejectedAck.generation}, which the operator never issued; out of service until it holds generation ${gen}`
            : `ATS holds no pushed ring (restarted?); out of service until it holds generation ${gen}`,
      });
    } else {
      heldByBudget.push(o.name);
    }
  }
  return { updates, heldByBudget };
}
