// "Status tells the truth at every point", sampled: reads a TicketKeySet's status every
// second, takes a fresh ground-truth sample of every pod right after (RingSampler, from the
// agents themselves), and records every claim the truth does not back:
//   - more pods converged than can have held the current ring when the status was written: a
//     pod counts as holding it when it was seen holding it (or a newer ring) between shortly
//     before the write and the reading, and as not holding it when it was seen on something else
//     after the write or when it had no agent at all around the write (nobody can have observed
//     it). A pod the sampler lost sight of right at the write (its agent stopped or replaced just
//     after the operator's push) is neither: that claim is unverifiable, kept in unverified();
//   - a pod the test knows cannot hold it (`neverConverged`) listed as holding it, in a status
//     written after it turned so;
//   - a promotion (activeKey changes to the key staged before) while a pod that was Ready when
//     the key was staged had not been seen holding the staged generation.
// Also keeps every status it read, for the test's own assertions.
//
//   const watch = new StatusWatch({ tks, name: 'web', fleet, rings, pods: PODS });
//   watch.start(); ... await watch.stop(); expect(watch.violations()).toEqual([]);
import { setTimeout as sleep } from 'node:timers/promises';
import type { TicketKeySet, TicketKeySetStatus } from '../../src/api/index.ts';
import type { Fleet } from '../../dev/fleet.ts';
import type { RingSampler } from './ring-sampler.ts';
import type { TicketKeySets } from '../../dev/ticket-key-sets.ts';

export interface StatusSample {
  at: number;
  status: TicketKeySetStatus;
  /** Pods whose Pod object was Ready at this sample. */
  ready: string[];
}

export interface StatusWatchOptions {
  tks: TicketKeySets;
  name: string;
  fleet: Fleet;
  rings: RingSampler;
  /** The target pods of the set. */
  pods: readonly string[];
  /** Pods that must never be claimed converged from `since` on (a hostile pod, say). */
  neverConverged?: () => ReadonlyArray<{ pod: string; since: number }>;
  intervalMs?: number;
}

/**
 * The ring fingerprint the status reports for its current generation: the one most pod items
 * without an error report at that generation (a lying pod may report the generation with a
 * fingerprint of its own).
 */
export function currentRingOf(status: TicketKeySetStatus | undefined): { generation: number; ringFingerprint: string | undefined } {
  const generation = status?.keyGeneration ?? 0;
  const votes = new Map<string, number>();
  for (const i of status?.pods?.items ?? []) {
    if (i.generation === generation && i.ringFingerprint && i.error === undefined) votes.set(i.ringFingerprint, (votes.get(i.ringFingerprint) ?? 0) + 1);
  }
  const fp = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  return { generation, ringFingerprint: fp };
}

/** When the status was last written (managedFields of the status subresource; 1 s resolution). */
function statusWrittenAt(t: TicketKeySet): number | undefined {
  const times = (t.metadata.managedFields ?? []).filter((f) => f.subresource === 'status' && f.time).map((f) => new Date(f.time!).getTime());
  return times.length > 0 ? Math.max(...times) : undefined;
}

/** How long before writing its status the operator may have observed a pod (agent timeout and margin). */
const OBSERVATION_SLACK_MS = 4000;

export class StatusWatch {
  readonly #o: StatusWatchOptions;
  readonly #samples: StatusSample[] = [];
  readonly #violations: string[] = [];
  readonly #unverified: string[] = [];
  /** The staged key seen last: fingerprint, its generation, pods Ready then. */
  #staged: { fingerprint: string; generation: number; ready: string[] } | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #errors = 0;

  constructor(options: StatusWatchOptions) {
    this.#o = options;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#running = (async () => {
      while (!this.#stopped) {
        await this.check().catch(() => this.#errors++); // the API server may be down on purpose
        await sleep(this.#o.intervalMs ?? 1000);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  samples(): StatusSample[] {
    return [...this.#samples];
  }

  violations(): string[] {
    return [...this.#violations];
  }

  /** Convergence claims that no sample could confirm or contradict. */
  unverified(): string[] {
    return [...this.#unverified];
  }

  /** Status reads that failed (API server down). */
  get readErrors(): number {
    return this.#errors;
  }

  /** One status read and the truth checks on it. */
  async check(): Promise<TicketKeySet> {
    const t = await this.#o.tks.get(this.#o.name);
    const at = Date.now();
    const status = t.status;
    if (!status) return t;
    const ready: string[] = [];
    for (const pod of this.#o.pods) {
      const p = await this.#o.fleet.pods.get(pod).catch(() => undefined);
      if (p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ready.push(pod);
    }
    this.#samples.push({ at, status, ready });
    await this.#o.rings.sampleNow();
    const { generation, ringFingerprint } = currentRingOf(status);
    const converged = status.pods?.converged ?? 0;

    // A claim is backed when the pod was seen holding the ring between shortly before the status
    // was written (the operator observed it then) and now (or already holding the next one).
    const writtenAt = statusWrittenAt(t) ?? at;
    const holds = (pod: string) =>
      this.#o.rings
        .samples(pod)
        .some(
          (s) =>
            s.at >= writtenAt - OBSERVATION_SLACK_MS &&
            ((s.generation === generation && s.ringFingerprint === ringFingerprint) || (s.generation > generation && s.generation <= generation + 2)),
        );
    const holders = this.#o.pods.filter(holds);
    // managedFields times are truncated to the second: the write happened within a second after.
    const surelyAfterWrite = writtenAt + 1000;
    const contradicted = (pod: string) =>
      this.#o.rings.samples(pod).some((s) => s.at >= surelyAfterWrite) || this.#o.rings.agentAbsentThroughout(pod, writtenAt - OBSERVATION_SLACK_MS, writtenAt);
    const possible = holders.length + this.#o.pods.filter((p) => !holders.includes(p) && !contradicted(p)).length;
    if (converged > holders.length && converged <= possible) {
      this.#unverified.push(`status claims ${converged} converged at generation ${generation}, ${holders.length} seen holding it, the rest not sampled since the write`);
    } else if (converged > holders.length) {
      // Name what the others were last seen holding, so a failure explains itself.
      const others = this.#o.pods
        .filter((p) => !holders.includes(p))
        .map((p) => {
          const last = this.#o.rings.latest(p);
          return last ? `${p} last seen ${at - last.at} ms before at ${last.generation}/${last.ringFingerprint}` : `${p} never sampled`;
        });
      this.#violations.push(
        `status claims ${converged} converged at generation ${generation} (${ringFingerprint ?? 'no ring'}, written ${at - writtenAt} ms before), only ${holders.length} hold it (${holders.join(', ')}); ${others.join('; ')}`,
      );
    }
    for (const { pod, since } of this.#o.neverConverged?.() ?? []) {
      if (writtenAt < since + OBSERVATION_SLACK_MS) continue; // written from what the operator saw before
      const item = status.pods?.items?.find((i) => i.name === pod);
      if (item && ringFingerprint !== undefined && item.generation === generation && item.ringFingerprint === ringFingerprint && !item.error && !holds(pod)) {
        this.#violations.push(`status lists ${pod} as holding generation ${generation}`);
      }
    }

    // No promotion without acknowledgement.
    const active = status.activeKey?.fingerprint;
    if (this.#staged && active === this.#staged.fingerprint) {
      const staged = this.#staged;
      const promotedAt = Date.parse(status.activeKey?.promotedAt ?? '') || at;
      for (const pod of staged.ready) {
        const seen = this.#o.rings.samples(pod).some((s) => s.generation >= staged.generation && s.at <= promotedAt + 1000);
        if (!seen) this.#violations.push(`key promoted (generation ${generation}) although Ready pod ${pod} was never seen holding the staged generation ${staged.generation}`);
      }
      this.#staged = undefined;
    }
    if (status.stagedKey && status.phase === 'Staging') {
      // The pods Ready at the last sample before the promotion are the ones it must wait for
      // (a pod the gate took out of service meanwhile no longer counts).
      if (status.stagedKey.fingerprint !== this.#staged?.fingerprint) this.#staged = { fingerprint: status.stagedKey.fingerprint, generation, ready };
      else this.#staged.ready = ready;
    }
    return t;
  }
}
