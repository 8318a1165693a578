// A nock-backed fake of the Lease endpoints with the API server's optimistic concurrency:
// a PUT whose resourceVersion is stale gets 409. Tests inject failures and read the log.
import nock from 'nock';
import { JSON_HEADERS, SERVER, status } from '../kube-fake.ts';

export interface LeaseSpecJson {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
export interface LeaseJson {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: LeaseSpecJson;
}

export class LeaseServer {
  lease: LeaseJson | undefined;
  readonly log: Array<{ method: string; body?: LeaseJson; status: number }> = [];
  private rv = 100;
  private readonly failures: Array<{ method: string; status: number }> = [];
  private readonly path: string;
  private readonly collection: string;
  readonly namespace: string;
  readonly name: string;

  constructor(namespace = 'ops', name = 'tko-leader') {
    this.namespace = namespace;
    this.name = name;
    this.collection = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
    this.path = `${this.collection}/${name}`;
    const scope = nock(SERVER).persist();
    scope.get(this.path).reply((req: Request) => this.handle('GET', req));
    scope.post(this.collection).reply((req: Request) => this.handle('POST', req));
    scope.put(this.path).reply((req: Request) => this.handle('PUT', req));
  }

  /** The next request with this method answers the given status. */
  failNext(method: 'GET' | 'POST' | 'PUT', code: number): void {
    this.failures.push({ method, status: code });
  }

  /** Someone else writes the Lease (bumps the resourceVersion). */
  set(spec: LeaseSpecJson, labels?: Record<string, string>): void {
    this.lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, resourceVersion: String(++this.rv), ...(labels ? { labels } : {}) },
      spec: { ...spec },
    };
  }

  writes(): Array<{ method: string; body?: LeaseJson; status: number }> {
    return this.log.filter((e) => e.method !== 'GET');
  }

  private async handle(method: string, req: Request): Promise<[number, unknown, Record<string, string>]> {
    const body = method === 'GET' ? undefined : ((await req.json()) as LeaseJson);
    const reply = (code: number, payload: unknown): [number, unknown, Record<string, string>] => {
      this.log.push({ method, ...(body ? { body } : {}), status: code });
      return [code, payload, JSON_HEADERS];
    };
    const failure = this.failures.findIndex((f) => f.method === method);
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      return reply(f!.status, status(f!.status, 'InternalError'));
    }
    switch (method) {
      case 'GET':
        return this.lease ? reply(200, this.lease) : reply(404, status(404, 'NotFound'));
      case 'POST':
        if (this.lease) return reply(409, status(409, 'AlreadyExists'));
        this.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++this.rv) } };
        return reply(201, this.lease);
      default:
        if (!this.lease) return reply(404, status(404, 'NotFound'));
        if (body!.metadata.resourceVersion !== this.lease.metadata.resourceVersion) return reply(409, status(409, 'Conflict', 'the object has been modified'));
        this.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++this.rv) } };
        return reply(200, this.lease);
    }
  }
}
