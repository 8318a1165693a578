// Everything a fault scenario watches while it breaks things, started and stopped together:
//   client   a resuming TLS client round-robin across the serving ATS pods (ResumptionClient)
//   rings    what every pod's ATS really holds, from its agent (RingSampler)
//   status   the TicketKeySet status checked against that truth every second (StatusWatch)
//   kubelet  Ready recomputed from the readiness gate every second (FakePods.syncReadiness, the
//            kubelet's step), recording the most pods NotReady at once
//   keys     every key the owned Secret held during the scenario (KeyScanner), for the leak scan
//
//   const obs = new FaultObservers({ sc, name: 'web', pods: PODS, clientPods: PODS, tlsPort: 18443 });
//   obs.start(); ...; await obs.stop();
//   expect(obs.client.failed({ pods: HEALTHY })).toEqual([]); expect(await obs.keyLeaks()).toEqual([]);
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentLogArchive, KeyScanner, scanSources, type KeyHit } from './key-scan.ts';
import type { OperatorScenario } from './operator-scenario.ts';
import { ResumptionClient } from './resumption-client.ts';
import { RingSampler } from './ring-sampler.ts';
import { StatusWatch } from './status-watch.ts';
import type { KubeConfig } from '@kubernetes/client-node';

export interface FaultObserversOptions {
  sc: Pick<OperatorScenario, 'fleet' | 'tks' | 'operator'> & { ns: { name: string } };
  kc: KubeConfig;
  /** The TicketKeySet under test. */
  name: string;
  /** Its target pods. */
  pods: readonly string[];
  /** Pods the TLS client resumes across (default: pods). */
  clientPods?: readonly string[];
  tlsPort: number;
  /** Pods the status must never call converged, each from `since` on. */
  neverConverged?: () => ReadonlyArray<{ pod: string; since: number }>;
  /** Pods the kubelet loop leaves alone (default none). */
  noKubelet?: readonly string[];
}

export class FaultObservers {
  readonly client: ResumptionClient;
  readonly rings: RingSampler;
  readonly status: StatusWatch;
  readonly keys: KeyScanner;
  readonly logs = new AgentLogArchive();
  readonly #o: FaultObserversOptions;
  #kubelet: Promise<void> | undefined;
  #stopped = true;
  #maxNotReady = 0;
  readonly #notReadySeen = new Set<string>();

  constructor(options: FaultObserversOptions) {
    this.#o = options;
    const { fleet } = options.sc;
    const clientPods = options.clientPods ?? options.pods;
    this.client = new ResumptionClient({ targets: clientPods.map((pod) => ({ pod, host: fleet.get(pod).ip, port: options.tlsPort })) });
    this.rings = new RingSampler(fleet, options.pods);
    this.status = new StatusWatch({
      tks: options.sc.tks,
      name: options.name,
      fleet,
      rings: this.rings,
      pods: options.pods,
      ...(options.neverConverged ? { neverConverged: options.neverConverged } : {}),
    });
    this.keys = new KeyScanner(options.kc, options.sc.ns.name, [options.name]);
  }

  start(): void {
    this.#stopped = false;
    this.rings.start();
    this.status.start();
    this.keys.startCollecting();
    this.client.start();
    this.#kubelet = this.#kubeletLoop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.client.stop();
    await this.status.stop();
    await this.rings.stop();
    await this.#kubelet;
    this.keys.stopCollecting();
  }

  /** The most target pods NotReady at one time. */
  get maxNotReady(): number {
    return this.#maxNotReady;
  }

  /** Every pod seen NotReady at some point. */
  notReadySeen(): string[] {
    return [...this.#notReadySeen].sort();
  }

  /** One kubelet pass: Ready follows the gate; returns the pods NotReady now. */
  async syncReadiness(): Promise<string[]> {
    const notReady: string[] = [];
    for (const pod of this.#o.pods) {
      if (this.#o.noKubelet?.includes(pod)) continue;
      const p = await this.#o.sc.fleet.pods.syncReadiness(pod);
      if (!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) notReady.push(pod);
    }
    this.#maxNotReady = Math.max(this.#maxNotReady, notReady.length);
    for (const pod of notReady) this.#notReadySeen.add(pod);
    return notReady;
  }

  /** Key bytes found in operator and agent logs, ATS logs, Events and status (after one more Secret read). */
  async keyLeaks(extra: Record<string, string> = {}): Promise<KeyHit[]> {
    await this.keys.collect().catch(() => {});
    const sources = await scanSources({
      kc: this.#o.kc,
      namespace: this.#o.sc.ns.name,
      operator: this.#o.sc.operator,
      fleet: this.#o.sc.fleet,
      archive: this.logs,
      extra,
    });
    return this.keys.scan(sources);
  }

  async #kubeletLoop(): Promise<void> {
    while (!this.#stopped) {
      await this.syncReadiness().catch(() => {}); // the API server may be down on purpose
      await sleep(1000);
    }
  }
}
