// The operator-managed agent PKI on a real API server with real agents (mutual TLS both ways):
// the real `tko operator --agent-pki-secret` makes its CA, writes one serving certificate per
// workload, and the agents (fed the Secret as kubelet feeds a volume) take the ring. Lifetimes
// are shortened so that within the test the certificates renew several times and the CA
// rotates (next CA trusted, then signing, then the old one dropped), and rotations keep
// converging through all of it. A Secret someone else made under the certificate's name is
// left alone, and no private key reaches a log line.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLIENT_AUTH_EKU, SERVER_AUTH_EKU, serviceAccountIdentityUri } from '../../src/agent/identity.ts';
import { ANNOTATION_ROTATE_NOW } from '../../src/api/names.ts';
import { certificateFacts, splitPemBundle } from '../../src/pki/x509.ts';
import { spawnAgent, type SpawnedAgent } from '../../dev/agent-process.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { atomicWrite } from '../helpers/kubelet-atomic-writer.ts';
import { spawnOperator, type SpawnedOperator } from '../../dev/operator-process.ts';
import { isReady, untilStatus } from '../helpers/operator-scenario.ts';
import { FakePods } from '../../dev/fake-pods.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const opNs = useNamespace('pki-operator');
const appNs = useNamespace('pki-app');
const PORT = 19443;
const CA_SECRET = 'tko-agent-ca';
const AGENT_SECRET = 'ticketkeys-agent-ats';
const FOREIGN_SECRET = 'ticketkeys-agent-intruder';
const PODS = [
  { name: 'ats-0', ip: '127.0.162.1' },
  { name: 'ats-1', ip: '127.0.162.2' },
];

const text = (s: V1Secret | undefined, key: string) => (s?.data?.[key] ? Buffer.from(s.data[key], 'base64').toString('utf8') : undefined);

describe('operator-managed agent PKI', () => {
  let operator: SpawnedOperator;
  let core: CoreV1Api;
  let dir: string;
  let projecting = true;
  let projector: Promise<void>;
  const agents: SpawnedAgent[] = [];
  const secret = (ns: string, name: string) => core.readNamespacedSecret({ namespace: ns, name }).catch(() => undefined);

  beforeAll(async () => {
    core = testKubeConfig().makeApiClient(CoreV1Api);
    dir = await mkdtemp(join(tmpdir(), 'tko-pki-'));
    for (const p of PODS) await mkdir(join(dir, p.name));
    // Someone else's Secret under the name the intruder workload's certificate would get.
    await core.createNamespacedSecret({ namespace: appNs.name, body: { metadata: { name: FOREIGN_SECRET }, stringData: { 'tls.crt': 'theirs' } } });
    operator = await spawnOperator({
      namespaces: [appNs.name],
      lease: { namespace: opNs.name, name: 'unused' },
      // The CA lives 45 s (a next CA at 30 s, signing 3 s later, the old one gone at 45 s);
      // agent certificates live 8 s (renewed every ~5 s).
      agentPki: { secret: CA_SECRET, caValidity: '45s', certValidity: '8s', propagation: '3s', interval: '500ms' },
    });
    for (const sa of ['ats', 'intruder']) await core.createNamespacedServiceAccount({ namespace: appNs.name, body: { metadata: { name: sa } } });
    const pods = new FakePods(testKubeConfig(), appNs.name);
    for (const p of PODS) await pods.create({ name: p.name, ip: p.ip, labels: { app: 'pki' }, serviceAccountName: 'ats' });
    await pods.create({ name: 'intruder', ip: '127.0.162.9', labels: { app: 'other' }, serviceAccountName: 'intruder' });
  }, 60_000);

  afterAll(async () => {
    projecting = false;
    await projector;
    for (const a of agents) await a.stop();
    await operator?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the CA Secret and a per-workload certificate naming the ServiceAccount, trusted by the CA bundle', async () => {
    const ca = await eventually('the CA Secret', () => secret(opNs.name, CA_SECRET), 30_000);
    expect(ca.metadata?.labels?.['ticketkeys.dev/agent-pki']).toBe('ca');
    const agent = await eventually('the agent certificate Secret', () => secret(appNs.name, AGENT_SECRET), 30_000);
    expect(agent.type).toBe('kubernetes.io/tls');
    const facts = await certificateFacts(text(agent, 'tls.crt')!);
    expect(facts.uris).toEqual([serviceAccountIdentityUri(appNs.name, 'ats')]);
    // serverAuth: the operator and peers dial it; clientAuth: it dials its peers (session sharing).
    expect(new X509Certificate(text(agent, 'tls.crt')!).keyUsage).toEqual([SERVER_AUTH_EKU, CLIENT_AUTH_EKU]);
    const trusted = await Promise.all(splitPemBundle(text(agent, 'ca.crt')!).map(certificateFacts));
    expect(trusted.map((t) => t.subjectKeyId)).toContain(facts.authorityKeyId);
    expect(text(agent, 'ca.crt')).toBe(text(ca, 'ca.crt'));
  });

  it('converges a TicketKeySet through certificate renewals and a CA rotation', async () => {
    // kubelet's part: each pod's volume follows the Secret (atomic ..data swaps).
    const project = async () => {
      const s = await secret(appNs.name, AGENT_SECRET);
      if (!s?.data) return;
      for (const p of PODS) {
        await atomicWrite(join(dir, p.name), { 'tls.crt': text(s, 'tls.crt')!, 'tls.key': { content: text(s, 'tls.key')!, mode: 0o600 }, 'ca.crt': text(s, 'ca.crt')! });
      }
    };
    await project();
    projector = (async () => {
      while (projecting) {
        await project().catch(() => {});
        await sleep(300);
      }
    })();
    for (const p of PODS) {
      const files = { agentCert: join(dir, p.name, 'tls.crt'), agentKey: join(dir, p.name, 'tls.key'), caCert: join(dir, p.name, 'ca.crt') };
      agents.push(await spawnAgent({ certs: { ...files, caKey: '', operatorCert: '', operatorKey: '' }, host: p.ip, port: PORT, installer: 'memory', tlsReloadIntervalMs: 300, logLevel: 'warn' }));
    }
    const tks = new TicketKeySets(testKubeConfig(), appNs.name);
    await tks.create(ticketKeySet('web', { selector: { matchLabels: { app: 'pki' } }, agent: { port: PORT }, rotation: { interval: '1h' } }));
    await untilStatus(tks, 'web', 'first ring on both pods', (t) => isReady(t, '2/2'), 30_000);

    const firstSigner = text(await secret(opNs.name, CA_SECRET), 'signer.crt');
    let rotations = 0;
    let sawNext = false;
    // Rotate every few seconds until the CA has rotated and the old CA left the bundle.
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; ) {
      const ca = await secret(opNs.name, CA_SECRET);
      if (ca?.data?.['next.crt']) sawNext = true;
      const rotated = text(ca, 'signer.crt') !== firstSigner;
      if (rotated && splitPemBundle(text(ca, 'ca.crt')!).length === 1 && rotations >= 3) break;
      const before = (await tks.get('web')).status?.keyGeneration ?? 0;
      await tks.mergePatch('web', { metadata: { annotations: { [ANNOTATION_ROTATE_NOW]: `r${++rotations}` } } });
      await untilStatus(tks, 'web', `rotation ${rotations} converged`, (t) => (t.status?.keyGeneration ?? 0) > before && t.status?.phase === 'Stable' && isReady(t, '2/2'), 30_000);
      await sleep(3000);
    }
    const ca = await secret(opNs.name, CA_SECRET);
    expect(sawNext).toBe(true);
    expect(text(ca, 'signer.crt')).not.toBe(firstSigner);
    expect(splitPemBundle(text(ca, 'ca.crt')!)).toHaveLength(1);
    const issuedBy = (await certificateFacts(text(await secret(appNs.name, AGENT_SECRET), 'tls.crt')!)).authorityKeyId;
    expect(issuedBy).toBe((await certificateFacts(text(ca, 'signer.crt')!)).subjectKeyId);
    expect(rotations).toBeGreaterThanOrEqual(3);
  }, 150_000);

  it('leaves a Secret it did not make alone, and logs no private key', async () => {
    expect(text(await secret(appNs.name, FOREIGN_SECRET), 'tls.crt')).toBe('theirs');
    await eventually('a warning about the foreign Secret', () => (operator.logs().some((l) => l.includes(FOREIGN_SECRET) && l.includes('left alone')) ? true : undefined));
    const logs = [...operator.logs(), ...agents.flatMap((a) => a.logs())].join('\n');
    expect(logs).not.toContain('PRIVATE KEY');
    const caKey = text(await secret(opNs.name, CA_SECRET), 'signer.key')!;
    expect(logs).not.toContain(caKey.split('\n')[1]);
  });
});
