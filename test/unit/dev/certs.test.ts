import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createDevCerts, issueAgentCert, issueCert, loadCa, writeDevCerts, type DevCerts } from '../../../src/dev/certs.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

describe('dev certificates', () => {
  let certs: DevCerts;
  it('creates a CA that signs both leaf certificates', async () => {
    certs = await createDevCerts({ days: 2 });
    const ca = new X509Certificate(certs.ca.cert);
    expect(ca.ca).toBe(true);
    for (const leaf of [certs.operator.cert, certs.agent.cert]) {
      const x = new X509Certificate(leaf);
      expect(x.ca).toBe(false);
      expect(x.checkIssued(ca)).toBe(true);
      expect(x.verify(ca.publicKey)).toBe(true);
    }
  });

  it('gives the operator certificate the operator URI SAN and clientAuth only', () => {
    const x = new X509Certificate(certs.operator.cert);
    expect(x.subjectAltName).toBe('URI:spiffe://ticketkeys.dev/operator');
    expect(x.keyUsage).toEqual([CLIENT_AUTH]);
  });

  it("gives the default agent certificate the identity of namespace default's default service account, for serverAuth and clientAuth (it dials its peers)", () => {
    const x = new X509Certificate(certs.agent.cert);
    expect(x.subjectAltName).toBe('URI:spiffe://ticketkeys.dev/ns/default/sa/default');
    expect(x.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
  });

  it('issues agent certificates per pod and per service account', async () => {
    const pod = new X509Certificate((await issueAgentCert(certs.ca, { namespace: 'edge', pod: 'ats-0' })).cert);
    expect([pod.subject, pod.subjectAltName]).toEqual(['CN=ats-0', 'URI:spiffe://ticketkeys.dev/ns/edge/pod/ats-0']);
    const sa = new X509Certificate((await createDevCerts({ agent: { namespace: 'edge', serviceAccount: 'ats' } })).agent.cert);
    expect(sa.subjectAltName).toBe('URI:spiffe://ticketkeys.dev/ns/edge/sa/ats');
  });

  it('is short-lived: valid from a few minutes ago for the days asked', () => {
    const x = new X509Certificate(certs.agent.cert);
    const from = Date.parse(x.validFrom);
    const to = Date.parse(x.validTo);
    expect(from).toBeLessThanOrEqual(Date.now());
    expect(Math.round((to - from) / 3_600_000)).toBe(48);
  });

  it('uses ECDSA P-256 keys', () => {
    const key = new X509Certificate(certs.agent.cert).publicKey;
    expect([key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve]).toEqual(['ec', 'prime256v1']);
  });

  it('issues expired certificates on request (tests of expiry)', async () => {
    const x = new X509Certificate((await issueCert(certs.ca, { commonName: 'old', usage: 'client', expired: true })).cert);
    expect(Date.parse(x.validTo)).toBeLessThan(Date.now());
  });

  it('puts organizations into the subject as O attributes (Kubernetes groups), after the CN', async () => {
    const x = new X509Certificate((await issueCert(certs.ca, { commonName: 'jane', organizations: ['system:masters', 'devs, ops'], usage: 'client' })).cert);
    expect(x.subject).toBe('CN=jane\nO=system:masters\nO=devs\\, ops');
  });

  it('loads a CA back from its PEM files and issues with it', async () => {
    const again = await loadCa({ cert: certs.ca.cert, key: certs.ca.key });
    const x = new X509Certificate((await issueCert(again, { commonName: 'later', usage: 'server', ipAddresses: ['10.96.0.1'] })).cert);
    expect(x.checkIssued(new X509Certificate(certs.ca.cert))).toBe(true);
    expect(x.verify(new X509Certificate(certs.ca.cert).publicKey)).toBe(true);
    expect(x.checkIP('10.96.0.1')).toBe('10.96.0.1');
  });

  it('writes the six files, private keys readable by the owner only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tko-certs-'));
    dirs.push(dir);
    const files = await writeDevCerts(join(dir, 'certs'), certs);
    const modes: Record<string, number> = {};
    for (const [name, path] of Object.entries(files)) modes[name] = (await stat(path)).mode & 0o777;
    expect(modes).toEqual({ caCert: 0o644, caKey: 0o600, operatorCert: 0o644, operatorKey: 0o600, agentCert: 0o644, agentKey: 0o600 });
    expect(await readFile(files.agentKey, 'utf8')).toMatch(/^-{5}BEGIN PRIVATE KEY-{5}\n/);
    expect(await readFile(files.caCert, 'utf8')).toBe(certs.ca.cert);
  });
});
