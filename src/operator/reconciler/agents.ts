// The reconciler's view of the pods' agents: read what ATS holds, push a ring, flush the
// session cache. AgentPool is the real one (mutual TLS over one shared undici dispatcher, a
// timeout per request); tests of the reconcile shell substitute fakes.
import type { Dispatcher } from 'undici';
import { AgentClient, AgentError, createAgentDispatcher, type AgentClientTls } from '../../agent/client.ts';
import type { GetRingResponse, PutRingRequest, PutRingResponse } from '../../agent/protocol.ts';
import { agentBaseUrl } from './pods.ts';

/** Where one pod's agent listens. */
export interface AgentAddress {
  readonly ip: string;
  readonly port: number;
}

export interface AgentPort {
  getRing(to: AgentAddress): Promise<GetRingResponse>;
  putRing(to: AgentAddress, ring: PutRingRequest): Promise<PutRingResponse>;
  flushSessionCache(to: AgentAddress): Promise<void>;
}

export class AgentPool implements AgentPort {
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly clients = new Map<string, AgentClient>();

  constructor(options: { tls: AgentClientTls; timeoutMs?: number }) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.dispatcher = createAgentDispatcher(options.tls, { connectTimeoutMs: this.timeoutMs });
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

  async close(): Promise<void> {
    this.clients.clear();
    await this.dispatcher.close();
  }

  private client(to: AgentAddress): AgentClient {
    const url = agentBaseUrl(to.ip, to.port);
    let c = this.clients.get(url);
    if (!c) {
      // Pods come and go; keep the map bounded (clients share the dispatcher, so dropping one is free).
      if (this.clients.size > 4096) this.clients.clear();
      c = new AgentClient({ baseUrl: url, dispatcher: this.dispatcher, timeoutMs: this.timeoutMs });
      this.clients.set(url, c);
    }
    return c;
  }
}

/** One line for status and conditions: what failed, never a request body (there is none in AgentError). */
export function describeAgentError(err: unknown): string {
  if (err instanceof AgentError) {
    const text = err.status > 0 ? `agent answered ${err.status} ${err.code}: ${err.message}` : `agent ${err.code}: ${err.message}`;
    return oneLine(text);
  }
  return oneLine(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}

function oneLine(s: string): string {
  const line = s.split('\n', 1)[0] ?? '';
  return line.length > 512 ? `${line.slice(0, 511)}…` : line;
}
