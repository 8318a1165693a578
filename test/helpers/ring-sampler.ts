// The ground truth of a fault scenario: what each pod's ATS really holds, sampled from its
// agent (GET /v1/ring at the agent's own address, so a fault proxy in front of the pod does not
// hide it) every few hundred ms. Finds generations that go backwards, and answers "which pods
// really hold ring (generation, fingerprint) now" for checking what the status claims.
//
//   const rings = new RingSampler(fleet, ['ats-0', 'ats-1']); rings.start();
//   rings.regressions()      [] unless some ATS went from generation g to a lower non-zero one
//   await rings.sampleNow()  a fresh sample of every pod
//   await rings.stop()
//
// A traffic_server restart (new ATS start time) starts from generation 0, "nothing pushed": a
// loss the agent repairs by re-asserting, not a rollback; the comparison starts over there.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentClient } from '../../src/agent/client.ts';
import type { Fleet } from '../../dev/fleet.ts';

export interface RingSample {
  at: number;
  pod: string;
  /** What ATS holds (plugin stats). */
  generation: number;
  ringFingerprint: string;
  /** What the agent last accepted (null after an agent restart). */
  acceptedGeneration: number | null;
  /** traffic_server's start time. */
  atsStartTime: string;
}

export interface Regression {
  pod: string;
  from: number;
  to: number;
  at: number;
}

export class RingSampler {
  readonly #fleet: Fleet;
  readonly #pods: readonly string[];
  readonly #intervalMs: number;
  readonly #clients = new Map<string, { pid: number; client: AgentClient }>();
  readonly #samples: RingSample[] = [];
  /** Per pod: highest generation since the current traffic_server started. */
  readonly #highest = new Map<string, { startTime: string; generation: number }>();
  readonly #regressions: Regression[] = [];
  /** Per pod: since when the fleet has had no agent process for it (absent from the start: 0). */
  readonly #absentSince = new Map<string, number>();
  /** Per pod: closed intervals in which the fleet had no agent process for it. */
  readonly #absences = new Map<string, Array<{ from: number; to: number }>>();
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(fleet: Fleet, pods: readonly string[], options: { intervalMs?: number } = {}) {
    this.#fleet = fleet;
    this.#pods = pods;
    this.#intervalMs = options.intervalMs ?? 500;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#running = (async () => {
      while (!this.#stopped) {
        await this.sampleNow();
        await sleep(this.#intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
    for (const { client } of this.#clients.values()) await client.close().catch(() => {});
    this.#clients.clear();
  }

  /** Samples every pod once (pods whose agent is down or does not answer are skipped); returns the samples. */
  async sampleNow(): Promise<RingSample[]> {
    const got = await Promise.all(this.#pods.map((pod) => this.#sample(pod)));
    return got.filter((s): s is RingSample => s !== undefined);
  }

  samples(pod?: string): RingSample[] {
    return this.#samples.filter((s) => pod === undefined || s.pod === pod);
  }

  latest(pod: string): RingSample | undefined {
    return this.#samples.findLast((s) => s.pod === pod);
  }

  regressions(): Regression[] {
    return [...this.#regressions];
  }

  /** Highest generation seen in the pod's current traffic_server. */
  highest(pod: string): number {
    return this.#highest.get(pod)?.generation ?? 0;
  }

  /**
   * Whether the pod had no agent process (stopped by the test, or replaced by a stand-in)
   * throughout [from, to], as far as the samples tell: then nobody can have observed its ATS then.
   */
  agentAbsentThroughout(pod: string, from: number, to: number): boolean {
    const open = this.#absentSince.get(pod);
    if (open !== undefined && open <= from) return true;
    return (this.#absences.get(pod) ?? []).some((a) => a.from <= from && a.to >= to);
  }

  async #sample(pod: string): Promise<RingSample | undefined> {
    const agent = this.#fleet.get(pod).agent;
    const now = Date.now();
    if (!agent) {
      if (!this.#absentSince.has(pod)) this.#absentSince.set(pod, now);
      return undefined;
    }
    const since = this.#absentSince.get(pod);
    if (since !== undefined) {
      this.#absentSince.delete(pod);
      this.#absences.set(pod, [...(this.#absences.get(pod) ?? []), { from: since, to: now }]);
    }
    let c = this.#clients.get(pod);
    if (!c || c.pid !== agent.pid) {
      await c?.client.close().catch(() => {});
      c = { pid: agent.pid, client: agent.client({ timeoutMs: 2000 }) };
      this.#clients.set(pod, c);
    }
    let ring;
    try {
      ring = await c.client.getRing();
    } catch {
      return undefined; // ATS restarting, agent stopping: no truth to record
    }
    const sample: RingSample = {
      at: Date.now(),
      pod,
      generation: ring.ats.generation,
      ringFingerprint: ring.ats.ringFingerprint,
      acceptedGeneration: ring.accepted?.generation ?? null,
      atsStartTime: ring.ats.startTime,
    };
    this.#samples.push(sample);
    const prev = this.#highest.get(pod);
    const high = prev && prev.startTime === sample.atsStartTime ? prev.generation : 0;
    if (sample.generation < high) this.#regressions.push({ pod, from: high, to: sample.generation, at: sample.at });
    this.#highest.set(pod, { startTime: sample.atsStartTime, generation: Math.max(high, sample.generation) });
    return sample;
  }
}
