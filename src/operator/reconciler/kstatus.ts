// kstatus conditions (sigs.k8s.io/cli-utils/pkg/kstatus), so Flux health checks, `kubectl wait`
// and other kstatus readers judge a TicketKeySet without knowing it. Both are "abnormal-true"
// and always present (True or False), derived from the conditions the reconcile computed:
//   Stalled=True: the operator cannot make progress until the user changes something: a spec the
//     core refuses (InvalidSpec), an owned Secret in a format this operator does not read
//     (SecretUnusable), or every selected pod left to an older TicketKeySet (SelectorConflict).
//   Reconciling=True: otherwise, while the operator still works towards Ready: a rotation or
//     revoke is staging/promoting, pods are being pushed, or pods do not hold the ring yet
//     (including "no pod selected yet": a set applied before its Deployment is not yet healthy).
// Timeouts (Degraded PromotionTimedOut/ConvergenceTimedOut) are not Stalled: the operator retries
// with backoff and recovers when the pods come back, without a change to the TicketKeySet.
// A spec generation not yet observed is what status.observedGeneration says (every status write
// sets it); kstatus reads that itself.
import { CONDITION_RECONCILING, CONDITION_STALLED } from '../../api/names.ts';
import type { Condition } from '../../core/index.ts';

export interface StalledCause {
  reason: string;
  message: string;
}

/** `conditions` plus Reconciling and Stalled (replacing any already there). */
export function withKstatusConditions(conditions: readonly Condition[], stalled?: StalledCause): Condition[] {
  const base = conditions.filter((c) => c.type !== CONDITION_RECONCILING && c.type !== CONDITION_STALLED);
  const find = (type: Condition['type']) => base.find((c) => c.type === type);
  if (stalled) {
    return [
      ...base,
      { type: CONDITION_RECONCILING, status: 'False', reason: 'Stalled', message: `no progress until the TicketKeySet or its environment changes: ${stalled.message}` },
      { type: CONDITION_STALLED, status: 'True', reason: stalled.reason, message: stalled.message },
    ];
  }
  const ready = find('Ready');
  const progressing = find('Progressing');
  let reconciling: Condition;
  if (progressing?.status === 'True') {
    reconciling = { type: CONDITION_RECONCILING, status: 'True', reason: progressing.reason, message: progressing.message };
  } else if (ready && ready.status !== 'True') {
    reconciling = { type: CONDITION_RECONCILING, status: 'True', reason: ready.reason, message: ready.message };
  } else {
    reconciling = { type: CONDITION_RECONCILING, status: 'False', reason: progressing?.reason ?? 'Idle', message: progressing?.message ?? 'nothing to do' };
  }
  return [...base, reconciling, { type: CONDITION_STALLED, status: 'False', reason: 'AsExpected', message: 'the operator can make progress' }];
}
