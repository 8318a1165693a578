// The operator-managed agent PKI (`tko operator --agent-pki-secret NAME`): the leader keeps a CA
// in a Secret, issues itself a short-lived client certificate in memory, and writes one serving
// certificate per workload (namespace + ServiceAccount) of the pods it watches, renewing all of
// them before they expire and rotating the CA with an overlap (src/core/pki/ca-rotation.ts).
// No file and no user-made certificate is needed to install the operator.
//
// Each tick reads the CA Secret live (a new leader continues where the last one stopped), so
// two leaders in turn never fork the CA. One workload's failure (a Secret someone else owns, a
// namespace without permission) is that workload's error, logged and counted, never a stall.
import { CoreV1Api, type KubeConfig, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { OPERATOR_IDENTITY, DEFAULT_SERVICE_ACCOUNT, serviceAccountIdentityUri } from '../../agent/identity.ts';
import { caChanges, reissueReason, type CaFacts, type IssuedFacts, type PkiPolicy, type PkiState, type ReissueReason } from '../../core/pki/ca-rotation.ts';
import type { Logger } from '../../observability/logger.ts';
import { certificateFacts, createCa, issueAgentCert, issueOperatorCert, loadCa, pemLine, type CertificateFacts, type PemPair } from '../../pki/x509.ts';
import type { Clock, TimerHandle } from '../runtime/clock.ts';
import { isNotFound, toKubeError } from '../runtime/api-errors.ts';
import { withTimeout } from '../runtime/request-options.ts';
import type { OperatorTls } from '../reconciler/agents.ts';
import { CaSecretError, decodeCaSecret, encodeCaSecret, MAX_TRUSTED_CAS, type CaMaterial } from './ca-secret.ts';
import { agentTlsSecret, agentTlsSecretName, isManagedAgentTlsSecret } from './agent-tls-secret.ts';

export const DEFAULT_PKI_POLICY: PkiPolicy = {
  caValidityMs: 365 * 24 * 3_600_000,
  certValidityMs: 30 * 24 * 3_600_000,
  // Longer than kubelet's Secret sync (60–120 s with defaults) plus the agent's reload interval.
  propagationMs: 5 * 60_000,
};
/** The operator's own client certificate lives in memory only: a day, renewed at two thirds. */
const CLIENT_CERT_VALIDITY_MS = 24 * 3_600_000;

export interface AgentPkiOptions {
  kubeConfig: KubeConfig;
  /** Where the CA Secret lives (the operator's namespace). */
  secret: { namespace: string; name: string };
  policy?: PkiPolicy;
  /** How often certificates and the CA are checked (default 30 s). */
  intervalMs?: number;
  requestTimeoutMs: number;
  /** The watched pods: their namespaces and ServiceAccounts get agent certificates. */
  pods: { list(): ReadonlyArray<V1Pod> };
  /** Receives the operator's client certificate and trust bundle whenever either changes. */
  applyTls: (tls: OperatorTls) => void;
  clock: Clock;
  logger: Logger;
  onIssued?: (kind: 'ca' | 'operator' | 'agent', reason: string) => void;
  onError?: (stage: 'ca' | 'agent') => void;
}

interface Workload {
  namespace: string;
  serviceAccount: string;
}

export class AgentPki {
  private readonly api: CoreV1Api;
  private readonly policy: PkiPolicy;
  private readonly intervalMs: number;
  private client: { pair: PemPair; facts: CertificateFacts; bundle: string } | undefined;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Only once start() made its first pass (on the leader): a standby replica never writes the CA or a certificate. */
  private started = false;
  /** A poke came since the current pass began. */
  private poked = false;
  /** Workloads whose Secret name is taken by someone else: warned once each. */
  private readonly foreign = new Set<string>();

  private readonly options: AgentPkiOptions;

  constructor(options: AgentPkiOptions) {
    this.options = options;
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.policy = options.policy ?? DEFAULT_PKI_POLICY;
    this.intervalMs = options.intervalMs ?? 30_000;
    if (this.policy.certValidityMs >= this.policy.caValidityMs) throw new Error('agent certificate validity must be shorter than the CA validity');
    if (this.policy.propagationMs >= this.policy.caValidityMs / 3) throw new Error('the CA propagation delay must be shorter than a third of the CA validity');
  }

  /** First tick (retried until it succeeds or stop()), so the controller starts with TLS in hand. */
  async start(): Promise<void> {
    for (let delay = 1000; !this.stopped; delay = Math.min(delay * 2, 30_000)) {
      try {
        await this.tick();
        break;
      } catch (err) {
        this.options.logger.error('agent PKI not ready; retrying', { err: (err as Error).message, retryInMs: delay });
        await new Promise<void>((resolve) => this.options.clock.setTimeout(resolve, delay));
      }
    }
    this.started = true;
    this.schedule(this.intervalMs);
  }

  /** Soon, e.g. when a pod of a new workload appears. */
  poke(): void {
    if (!this.started) return;
    this.poked = true;
    this.schedule(500);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      // One pass at a time: two would race each other's writes of the same Secrets.
      if (this.running) {
        this.schedule(ms);
        return;
      }
      this.poked = false;
      this.running = this.tick()
        .catch((err: unknown) => {
          this.options.logger.error('agent PKI tick failed', { err: (err as Error).message });
        })
        .finally(() => {
          this.running = undefined;
          // A pod that appeared during this pass may not have been in its list.
          this.schedule(this.poked ? 500 : this.intervalMs);
        });
    }, ms);
  }

  /** One pass: the CA, the operator's client certificate, then every workload's Secret. */
  async tick(): Promise<void> {
    const ca = await this.ensureCa();
    await this.ensureClientCert(ca);
    const signer = await loadCa(ca.material.signer);
    for (const w of this.workloads()) {
      try {
        await this.ensureAgentSecret(w, signer, ca.signerId, ca.bundle);
      } catch (err) {
        this.options.onError?.('agent');
        this.options.logger.error('agent certificate not written', { namespace: w.namespace, serviceAccount: w.serviceAccount, err: (err as Error).message });
      }
    }
  }

  private workloads(): Workload[] {
    const seen = new Map<string, Workload>();
    for (const pod of this.options.pods.list()) {
      const namespace = pod.metadata?.namespace;
      if (!namespace) continue;
      const serviceAccount = pod.spec?.serviceAccountName || DEFAULT_SERVICE_ACCOUNT;
      seen.set(`${namespace}/${serviceAccount}`, { namespace, serviceAccount });
    }
    return [...seen.values()];
  }

  private async readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.api.readNamespacedSecret({ namespace, name }, withTimeout(this.options.requestTimeoutMs));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toKubeError(err, `secret ${namespace}/${name}`);
    }
  }

  private async writeSecret(body: V1Secret, exists: boolean): Promise<void> {
    const { namespace = '', name = '' } = body.metadata ?? {};
    try {
      if (exists) await this.api.replaceNamespacedSecret({ namespace, name, body }, withTimeout(this.options.requestTimeoutMs));
      else await this.api.createNamespacedSecret({ namespace, body }, withTimeout(this.options.requestTimeoutMs));
    } catch (err) {
      // A conflict (another writer got there first) is retried on the next tick, from a fresh read.
      throw toKubeError(err, `secret ${namespace}/${name}`);
    }
  }

  private async ensureCa(): Promise<{ material: CaMaterial; signerId: string; bundle: string }> {
    const { namespace, name } = this.options.secret;
    const now = this.options.clock.now();
    const secret = await this.readSecret(namespace, name);
    let material: CaMaterial | undefined;
    try {
      material = secret ? decodeCaSecret(secret) : undefined;
    } catch (err) {
      this.options.onError?.('ca');
      // Never overwrite what we cannot read: that could throw away the only copy of a CA key.
      if (err instanceof CaSecretError) throw new Error(`${err.message}; fix or delete it (a deleted CA Secret is made anew)`);
      throw err;
    }
    const state = material ? await pkiState(material) : undefined;
    const changes = caChanges(state, now, this.policy);
    if (changes.length > 0) {
      material = await this.applyCaChanges(material, state, changes.map((c) => c.kind));
      await this.writeSecret(encodeCaSecret(material, { namespace, name }, secret), secret !== undefined);
      for (const c of changes) {
        if (c.kind !== 'drop-expired') this.options.onIssued?.('ca', c.kind);
        this.options.logger.info('agent CA changed', { change: c.kind, caSecret: `${namespace}/${name}` });
      }
    }
    const signerId = (await certificateFacts(material!.signer.cert)).subjectKeyId ?? '';
    return { material: material!, signerId, bundle: material!.trusted.join('') };
  }

  private async applyCaChanges(material: CaMaterial | undefined, state: PkiState | undefined, kinds: string[]): Promise<CaMaterial> {
    const now = this.options.clock.now();
    const fresh = async (): Promise<PemPair> => {
      const ca = await createCa({ commonName: 'ticket-key-operator agent CA', validityMs: this.policy.caValidityMs });
      return { cert: pemLine(ca.cert), key: ca.key };
    };
    let next = material ? { ...material, trusted: [...material.trusted] } : undefined;
    if (kinds.includes('drop-expired') && next && state) {
      const live = new Set(state.trusted.filter((ca) => ca.notAfter > now).map((ca) => ca.id));
      const kept: string[] = [];
      for (const pem of next.trusted) if (live.has((await certificateFacts(pem)).subjectKeyId ?? '')) kept.push(pem);
      next.trusted = kept;
    }
    if (kinds.includes('new-signer')) {
      const signer = await fresh();
      const keep = (next?.trusted ?? []).slice(-(MAX_TRUSTED_CAS - 1));
      next = { signer, trusted: [...keep, signer.cert] };
    } else if (kinds.includes('add-next') && next) {
      const added = await fresh();
      next.next = { ...added, addedAt: now };
      next.trusted = [...next.trusted.slice(-(MAX_TRUSTED_CAS - 1)), added.cert];
    } else if (kinds.includes('promote-next') && next?.next) {
      next.signer = { cert: next.next.cert, key: next.next.key };
      delete next.next;
    }
    return next!;
  }

  private async ensureClientCert(ca: { material: CaMaterial; signerId: string; bundle: string }): Promise<void> {
    const now = this.options.clock.now();
    const reason = reissueReason(
      this.client ? issued(this.client.facts) : undefined,
      ca.signerId,
      OPERATOR_IDENTITY,
      now,
    );
    if (reason === undefined && this.client?.bundle === ca.bundle) return;
    if (reason !== undefined) {
      const pair = await issueOperatorCert(await loadCa(ca.material.signer), { validityMs: CLIENT_CERT_VALIDITY_MS });
      this.client = { pair, facts: await certificateFacts(pair.cert), bundle: ca.bundle };
      this.options.onIssued?.('operator', reason);
    } else {
      this.client!.bundle = ca.bundle;
    }
    this.options.applyTls({ cert: this.client!.pair.cert, key: this.client!.pair.key, ca: ca.bundle });
  }

  private async ensureAgentSecret(w: Workload, signer: Awaited<ReturnType<typeof loadCa>>, signerId: string, bundle: string): Promise<void> {
    const name = agentTlsSecretName(w.serviceAccount);
    const identity = serviceAccountIdentityUri(w.namespace, w.serviceAccount);
    const secret = await this.readSecret(w.namespace, name);
    if (secret && !isManagedAgentTlsSecret(secret)) {
      const key = `${w.namespace}/${name}`;
      if (!this.foreign.has(key)) {
        this.foreign.add(key);
        this.options.logger.warn('a Secret not made by the operator has the agent certificate name; left alone', { secretName: key });
      }
      return;
    }
    const certPem = secret?.data?.['tls.crt'] ? Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8') : undefined;
    let reason: ReissueReason | undefined;
    try {
      const facts = certPem ? await certificateFacts(certPem) : undefined;
      reason = reissueReason(facts ? issued(facts) : undefined, signerId, identity, this.options.clock.now());
    } catch {
      reason = 'Missing'; // an unparsable certificate is replaced
    }
    const currentBundle = secret?.data?.['ca.crt'] ? Buffer.from(secret.data['ca.crt'], 'base64').toString('utf8') : undefined;
    if (reason === undefined && currentBundle === bundle) return;
    let pair: PemPair;
    if (reason !== undefined) {
      pair = await issueAgentCert(signer, { namespace: w.namespace, serviceAccount: w.serviceAccount }, { validityMs: this.policy.certValidityMs });
    } else {
      pair = { cert: certPem!, key: Buffer.from(secret!.data!['tls.key'] ?? '', 'base64').toString('utf8') };
    }
    await this.writeSecret(agentTlsSecret({ namespace: w.namespace, name }, identity, { ...pair, bundle }, secret), secret !== undefined);
    this.options.onIssued?.('agent', reason ?? 'TrustBundle');
    this.options.logger.info('agent certificate written', { namespace: w.namespace, serviceAccount: w.serviceAccount, secretName: name, reason: reason ?? 'TrustBundle' });
  }
}

/** Renewal counts from issuance, not from the back-dated notBefore (short lifetimes would renew at once). */
function issued(f: CertificateFacts): IssuedFacts {
  return { notBefore: f.issuedAt, notAfter: f.notAfter, issuerId: f.authorityKeyId, uris: f.uris };
}

async function pkiState(material: CaMaterial): Promise<PkiState> {
  const facts = async (pem: string): Promise<CaFacts> => {
    const f = await certificateFacts(pem);
    return { id: f.subjectKeyId ?? '', notBefore: f.issuedAt, notAfter: f.notAfter };
  };
  return {
    signer: await facts(material.signer.cert),
    ...(material.next ? { next: { ...(await facts(material.next.cert)), addedAt: material.next.addedAt } } : {}),
    trusted: await Promise.all(material.trusted.map(facts)),
  };
}
