// The reconciler's view of the pods' agents: read what ATS holds, push a ring, flush the
// session cache. AgentPool is the real one: mutual TLS with one undici dispatcher per pod,
// each bound to that pod's identity (the agent must present a certificate from the operator CA
// bundle whose URI SAN names this pod or its service account, so another pod's certificate at
// this address is refused), a timeout per request. Tests of the reconcile shell substitute fakes.
import type { Agent } from 'undici';
import { AgentClient, AgentError, createAgentDispatcher, createAgentSecureContext, type AgentClientTls } from '../../agent/client.ts';
import { acceptedAgentIdentities, type PodIdentity } from '../../agent/identity.ts';
import type { GetRingResponse, PutRingRequest, PutRingResponse, SessionCacheStatsResponse } from '../../agent/protocol.ts';
import type { SessionSharingConfig } from '../../contract/session-sharing.ts';
import { describeError } from '../../observability/describe-error.ts';
import { createLogger, type Logger } from '../../observability/logger.ts';
import { checkTlsMaterial } from '../../tls/material.ts';
import { agentBaseUrl } from './pods.ts';

/** Where one pod's agent listens, and which pod it must prove to be. */
export interface AgentAddress {
  readonly ip: string;
  readonly port: number;
  readonly pod: PodIdentity & { readonly uid: string };
}

export interface AgentPort {
  getRing(to: AgentAddress): Promise<GetRingResponse>;
  putRing(to: AgentAddress, ring: PutRingRequest): Promise<PutRingResponse>;
  flushSessionCache(to: AgentAddress): Promise<void>;
  /** PUT /v1/session-sharing: replaces the agent's whole session-sharing config (its answer is not used). */
  putSessionSharing(to: AgentAddress, config: SessionSharingConfig): Promise<void>;
}

/**
 * How long a connection to an agent stays open unused. One reconcile's exchanges with a pod
 * (read, stage, promote) follow each other closely; the set's next reconcile is a resync away.
 * Kept longer, an idle TLS connection only holds memory on both ends: at 10,000 pods, some 700
 * of them at any time with undici's default of 4 s (bench:scale).
 */
export const AGENT_KEEP_ALIVE_MS = 1000;

/**
 * Pods with a dispatcher at once. A set's pods are dialled by one reconcile at a time, a few
 * workers at once, so a dispatcher is rarely reused beyond its reconcile: the pool bounds
 * memory, it is no cache of the fleet.
 */
export const AGENT_POOL_MAX_PODS = 256;

/** The operator's TLS material: client certificate and key, and the CA bundle agents chain to. */
export type OperatorTls = Omit<AgentClientTls, 'agentIdentities' | 'secureContext'>;

interface PodConnection {
  readonly uid: string;
  readonly dispatcher: Agent;
  readonly client: AgentClient;
}

export class AgentPool implements AgentPort {
  /** With its secure context, parsed once for every pod's connections. */
  private tls: (OperatorTls & Pick<AgentClientTls, 'secureContext'>) | undefined;
  private readonly timeoutMs: number;
  private readonly maxPods: number;
  private readonly logger: Logger;
  /** By pod uid and address, least recently used first. */
  private readonly connections = new Map<string, PodConnection>();

  constructor(options: { tls?: OperatorTls; timeoutMs?: number; maxPods?: number; logger?: Logger }) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxPods = options.maxPods ?? AGENT_POOL_MAX_PODS;
    this.logger = options.logger ?? createLogger({ component: 'agent-pool' });
    if (options.tls) this.setTls(options.tls);
  }

  /**
   * New material (a renewed client certificate, a CA bundle with a CA added or removed): every
   * later connection uses it; the dispatchers built on the old one finish what they carry and
   * close. Throws, keeping the old material, when the new one is broken.
   */
  setTls(tls: OperatorTls): void {
    checkTlsMaterial(tls);
    this.tls = { ...tls, secureContext: createAgentSecureContext(tls) };
    this.closeAll();
  }

  /** The pod is gone: close its connections. */
  forgetPod(uid: string): void {
    for (const [key, c] of this.connections) {
      if (c.uid !== uid) continue;
      this.connections.delete(key);
      this.closeInBackground(c, 'pod gone');
    }
  }

  /** How many pods have a dispatcher now (bounded by maxPods). */
  get size(): number {
    return this.connections.size;
  }

  getRing(to: AgentAddress): Promise<GetRingResponse> {
    return this.client(to).getRing();
  }

  putRing(to: AgentAddress, ring: PutRingRequest): Promise<PutRingResponse> {
    return this.client(to).putRing(ring);
  }

  async flushSessionCache(to: AgentAddress): Promise<void> {
    await this.client(to).flushSessionCache();
  }

  async putSessionSharing(to: AgentAddress, config: SessionSharingConfig): Promise<void> {
    await this.client(to).putSessionSharing(config);
  }

  /** `tko cache flush`: the stats that show the flush (not on AgentPort: the reconciler only flushes). */
  flushSessionCacheWithStats(to: AgentAddress): Promise<SessionCacheStatsResponse> {
    return this.client(to).flushSessionCache();
  }

  /** `tko cache stats`. */
  sessionCacheStats(to: AgentAddress): Promise<SessionCacheStatsResponse> {
    return this.client(to).sessionCacheStats();
  }

  /** Closes every connection; one that fails to close is logged, the others still close. */
  async close(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    const results = await Promise.allSettled(all.map((c) => c.dispatcher.close()));
    for (const r of results) if (r.status === 'rejected') this.logger.warn('closing agent connections failed', { err: describeError(r.reason) });
  }

  private closeAll(): void {
    const all = [...this.connections.values()];
    this.connections.clear();
    for (const c of all) this.closeInBackground(c, 'new TLS material');
  }

  /** The dispatcher finishes what it carries, then closes; nobody waits for it, a failure is logged. */
  private closeInBackground(c: PodConnection, why: string): void {
    void c.dispatcher.close().catch((err: unknown) => this.logger.debug('closing agent connections failed', { uid: c.uid, why, err: describeError(err) }));
  }

  private client(to: AgentAddress): AgentClient {
    if (!this.tls) throw new AgentError(0, 'tls', 'the operator has no TLS material for agents yet');
    const url = agentBaseUrl(to.ip, to.port);
    const key = `${to.pod.uid}|${url}`;
    let c = this.connections.get(key);
    if (c) {
      this.connections.delete(key); // re-inserted below: most recently used last
    } else {
      let identities: string[];
      try {
        identities = acceptedAgentIdentities(to.pod);
      } catch (err) {
        throw new AgentError(0, 'tls', `pod ${to.pod.namespace}/${to.pod.name}: ${(err as Error).message}`);
      }
      const dispatcher = createAgentDispatcher({ ...this.tls, agentIdentities: identities }, { connectTimeoutMs: this.timeoutMs, keepAliveMs: AGENT_KEEP_ALIVE_MS });
      c = { uid: to.pod.uid, dispatcher, client: new AgentClient({ baseUrl: url, dispatcher, timeoutMs: this.timeoutMs }) };
      // Pods come and go (a missed delete, an IP reused): the least recently used beyond the bound close.
      while (this.connections.size >= this.maxPods) {
        const [oldest, evicted] = this.connections.entries().next().value as [string, PodConnection];
        this.connections.delete(oldest);
        this.closeInBackground(evicted, 'least recently used');
      }
    }
    this.connections.set(key, c);
    return c.client;
  }
}
