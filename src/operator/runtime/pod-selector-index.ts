// Which cached pods a label selector selects, without scanning every pod for every reconcile.
// With 1,000 TicketKeySets over 10,000 pods (issue 12, bench:scale), each reconcile scanning
// the namespace's pods cost tens of milliseconds of CPU and most of the operator's idle CPU.
// Pods change far less often than sets reconcile, so the index is rebuilt lazily: any pod event
// marks it stale, and the next lookup in that namespace rebuilds it once (one scan), after
// which every set's lookup reads the pods carrying the rarest of its matchLabels pairs and
// checks the whole selector on those only. A selector without matchLabels still scans.
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import type { EventSource } from './event-source.ts';
import { matchesLabelSelector } from './label-selector.ts';

interface NamespaceIndex {
  readonly version: number;
  readonly all: readonly V1Pod[];
  /** "key=value" -> the pods carrying that label. */
  readonly byLabel: ReadonlyMap<string, readonly V1Pod[]>;
}

const NONE: readonly V1Pod[] = [];

export class PodSelectorIndex {
  readonly #pods: EventSource<V1Pod>;
  #version = 0;
  readonly #namespaces = new Map<string, NamespaceIndex>();

  constructor(pods: EventSource<V1Pod>) {
    this.#pods = pods;
    const stale = () => {
      this.#version++;
    };
    pods.on('add', stale);
    pods.on('update', stale);
    pods.on('delete', stale);
  }

  /** The namespace's cached pods that `selector` selects (none for a missing selector). */
  select(namespace: string, selector: V1LabelSelector | undefined): readonly V1Pod[] {
    if (!selector) return NONE;
    const index = this.#index(namespace);
    let candidates = index.all;
    for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
      const carrying = index.byLabel.get(`${key}=${value}`) ?? NONE;
      if (carrying.length < candidates.length) candidates = carrying;
    }
    return candidates.filter((pod) => matchesLabelSelector(selector, pod.metadata?.labels));
  }

  #index(namespace: string): NamespaceIndex {
    const current = this.#namespaces.get(namespace);
    if (current && current.version === this.#version) return current;
    const version = this.#version;
    const all = this.#pods.list(namespace);
    const byLabel = new Map<string, V1Pod[]>();
    for (const pod of all) {
      for (const [key, value] of Object.entries(pod.metadata?.labels ?? {})) {
        const k = `${key}=${value}`;
        const list = byLabel.get(k);
        if (list) list.push(pod);
        else byLabel.set(k, [pod]);
      }
    }
    const built = { version, all, byLabel };
    this.#namespaces.set(namespace, built);
    return built;
  }
}
