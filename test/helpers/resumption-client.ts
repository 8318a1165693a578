// A TLS client running in the background while a fault scenario plays: one chain per TLS
// version, each connection going to the next ATS pod round-robin and offering the session the
// previous connection got (clients behind a load balancer, one servername for every pod).
// Every attempt is recorded; key names of tickets are never kept.
//
//   const client = new ResumptionClient({ targets: [{ pod: 'ats-0', host: '127.0.70.1', port: 18443 }, ...] });
//   client.start();  ...  await client.stop();
//   client.failed({ pods: ['ats-0', 'ats-1'] })   failures where both pods are healthy ones
//
// Outcomes: 'fresh' = no session offered (a full handshake, as expected); 'resumed' = the
// offered session was accepted; 'failed' = a session was offered and the server made a full
// handshake instead (what fault tolerance must avoid); 'error' = no TLS result at all (pod
// down, refused, timed out): the chain keeps its session and tries the next pod.
import { setTimeout as sleep } from 'node:timers/promises';
import { tlsProbe, type TlsVersion } from '../../dev/tls-probe.ts';

export interface ResumptionTarget {
  pod: string;
  host: string;
  port: number;
}

export type ResumptionOutcome = 'fresh' | 'resumed' | 'failed' | 'error';

export interface ResumptionAttempt {
  /** When the attempt started (ms since the epoch). */
  at: number;
  version: TlsVersion;
  pod: string;
  /** The pod that issued the offered session (undefined for 'fresh'). */
  issuedBy: string | undefined;
  outcome: ResumptionOutcome;
  /** First line of the error, for 'error'. */
  error?: string;
}

export interface ResumptionClientOptions {
  targets: readonly ResumptionTarget[];
  /** Default both. */
  versions?: readonly TlsVersion[];
  /** One name for every pod, so a session made on one is offered to the others. */
  servername?: string;
  /** Pause between two connections of a chain. Default 50 ms. */
  gapMs?: number;
  /** Per connection. Default 3000 ms. */
  timeoutMs?: number;
}

export class ResumptionClient {
  readonly #o: Required<ResumptionClientOptions>;
  readonly #attempts: ResumptionAttempt[] = [];
  #running: Promise<void>[] = [];
  #stopped = true;

  constructor(options: ResumptionClientOptions) {
    if (options.targets.length === 0) throw new Error('ResumptionClient needs at least one target');
    this.#o = { versions: ['1.3', '1.2'], servername: 'fault.test', gapMs: 50, timeoutMs: 3000, ...options };
  }

  start(): void {
    if (!this.#stopped) throw new Error('ResumptionClient already runs');
    this.#stopped = false;
    this.#running = this.#o.versions.map((v, i) => this.#chain(v, i));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
    this.#running = [];
  }

  results(): ResumptionAttempt[] {
    return [...this.#attempts];
  }

  /** Failed resumptions, optionally only those where both the target and the issuer are in `pods`, and from `since` on. */
  failed(filter: { pods?: readonly string[]; since?: number } = {}): ResumptionAttempt[] {
    return this.#attempts.filter(
      (a) =>
        a.outcome === 'failed' &&
        (filter.since === undefined || a.at >= filter.since) &&
        (filter.pods === undefined || (filter.pods.includes(a.pod) && a.issuedBy !== undefined && filter.pods.includes(a.issuedBy))),
    );
  }

  /** Counts by outcome (for assertion messages and the proof that the client really ran). */
  counts(filter: { since?: number } = {}): Record<ResumptionOutcome, number> {
    const c: Record<ResumptionOutcome, number> = { fresh: 0, resumed: 0, failed: 0, error: 0 };
    for (const a of this.#attempts) if (filter.since === undefined || a.at >= filter.since) c[a.outcome]++;
    return c;
  }

  async #chain(version: TlsVersion, offset: number): Promise<void> {
    const targets = this.#o.targets;
    let session: { bytes: Buffer; issuedBy: string } | undefined;
    for (let i = offset; !this.#stopped; i++) {
      const target = targets[i % targets.length]!;
      const at = Date.now();
      const attempt = { at, version, pod: target.pod, issuedBy: session?.issuedBy };
      try {
        const r = await tlsProbe({
          host: target.host,
          port: target.port,
          tls: version,
          servername: this.#o.servername,
          timeoutMs: this.#o.timeoutMs,
          ...(session ? { session: session.bytes } : {}),
        });
        this.#attempts.push({ ...attempt, outcome: session ? (r.resumed ? 'resumed' : 'failed') : 'fresh' });
        // A resumed TLS 1.2 connection may issue no new ticket: the offered one stays in use.
        if (r.newSession) session = { bytes: r.newSession, issuedBy: target.pod };
      } catch (err) {
        this.#attempts.push({ ...attempt, outcome: 'error', error: (err as Error).message.split('\n')[0]!.slice(0, 200) });
        await sleep(200); // a refused connection returns at once: do not spin
      }
      await sleep(this.#o.gapMs);
    }
  }
}
