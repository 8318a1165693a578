// Two TicketKeySets whose selectors overlap would push their own rings to the same pod in turn,
// each above the other's generation, forever. A contested pod belongs to the older set (earliest
// creationTimestamp, then name): the older set's pods never change hands when someone creates a
// second set, and the younger set reports the conflict in its SelectorConflict condition, naming
// the pods and the set that keeps them. Pure.
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../api/index.ts';
import { matchesLabelSelector } from '../runtime/label-selector.ts';

export interface SelectorConflicts {
  /** Pods this set must leave alone, with the set that owns each. */
  readonly ceded: ReadonlyMap<string, string>;
}

/** Older first: creationTimestamp, then name (a stable total order). */
function olderThan(a: TicketKeySet, b: TicketKeySet): boolean {
  const ta = Date.parse(String(a.metadata.creationTimestamp ?? '')) || 0;
  const tb = Date.parse(String(b.metadata.creationTimestamp ?? '')) || 0;
  if (ta !== tb) return ta < tb;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '');
}

/**
 * The pods of `pods` that `self` selects but an older live set in the same namespace also
 * selects. `selectorOf` returns a set's selector (sets without a usable one select nothing).
 */
export function findSelectorConflicts(
  self: TicketKeySet,
  sets: readonly TicketKeySet[],
  pods: readonly V1Pod[],
  selectorOf: (t: TicketKeySet) => V1LabelSelector | undefined,
): SelectorConflicts {
  const ceded = new Map<string, string>();
  const rivals = sets.filter(
    (t) => t.metadata.uid !== self.metadata.uid && !t.metadata.deletionTimestamp && t.metadata.namespace === self.metadata.namespace && olderThan(t, self),
  );
  if (rivals.length === 0) return { ceded };
  const mine = selectorOf(self);
  for (const pod of pods) {
    const labels = pod.metadata?.labels;
    if (!matchesLabelSelector(mine, labels)) continue;
    const owner = rivals.filter((t) => matchesLabelSelector(selectorOf(t), labels)).sort((a, b) => (olderThan(a, b) ? -1 : 1))[0];
    if (owner) ceded.set(pod.metadata?.name ?? '', owner.metadata.name ?? '');
  }
  return { ceded };
}
