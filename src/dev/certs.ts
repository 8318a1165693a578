// Short-lived development certificates for the agent's mutual TLS, following the trust model
// of docs/agent.md: a CA, the operator's client certificate (URI SAN OPERATOR_IDENTITY,
// clientAuth) and agents' serving certificates whose URI SAN names a pod or a service account.
// Generated at run time (never committed). The functions are also the test kit for the
// refusals: a foreign CA, a wrong identity, another pod's certificate.
import { webcrypto } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { agentIdentityUri, OPERATOR_IDENTITY, type AgentSubject } from '../agent/identity.ts';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;


let loaded: Promise<typeof X509> | undefined;
/**
 * @peculiar/x509 needs Reflect metadata when it loads (its tsyringe checks at load time). A
 * static import cannot guarantee reflect-metadata runs first everywhere (jest evaluates CommonJS
 * dependencies while linking), so both are imported on first use, reflect-metadata first.
 */
function x509Lib(): Promise<typeof X509> {
  loaded ??= (async () => {
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as unknown as Parameters<typeof lib.cryptoProvider.set>[0]);
    return lib;
  })();
  return loaded;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;
/** Back-dated so a peer whose clock runs a little behind accepts a fresh certificate. */
const SKEW_MS = 5 * 60_000;

export interface PemPair {
  cert: string;
  key: string;
}

export interface CertAuthority extends PemPair {
  readonly signer: { cert: X509.X509Certificate; key: CryptoKey };
}

export interface IssueOptions {
  commonName: string;
  /** Subject O attributes; Kubernetes reads them as the groups of a client certificate. */
  organizations?: string[];
  usage: 'server' | 'client';
  dnsNames?: string[];
  ipAddresses?: string[];
  /** URI SANs: the identities of docs/agent.md's trust model. */
  uris?: string[];
  days?: number;
  /** Issue an already-expired certificate (tests of expiry). */
  expired?: boolean;
}

function validity(days: number, expired = false): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  if (expired) return { notBefore: new Date(now - 2 * DAY_MS), notAfter: new Date(now - DAY_MS) };
  return { notBefore: new Date(now - SKEW_MS), notAfter: new Date(now + days * DAY_MS) };
}

/** Positive 128-bit serial (RFC 5280: unique, at most 20 octets). */
function serial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  return Buffer.from(b).toString('hex');
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const x509 = await x509Lib();
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

export async function createCa(options: { commonName?: string; days?: number } = {}): Promise<CertAuthority> {
  const x509 = await x509Lib();
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [options.commonName ?? 'ticket-key-operator dev CA'] }],
    ...validity(options.days ?? 1),
    signingAlgorithm: EC,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey), signer: { cert, key: keys.privateKey } };
}

/** A CA made earlier by createCa, read back from its PEM certificate and PKCS#8 key. */
export async function loadCa(pair: PemPair): Promise<CertAuthority> {
  const x509 = await x509Lib();
  const cert = new x509.X509Certificate(pair.cert);
  const key = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(pair.key), EC, true, ['sign']);
  return { ...pair, signer: { cert, key } };
}

export async function issueCert(ca: CertAuthority, options: IssueOptions): Promise<PemPair> {
  const x509 = await x509Lib();
  const keys = await keyPair();
  const names = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [options.commonName] }, ...(options.organizations ?? []).map((o) => ({ O: [o] }))],
    issuer: ca.signer.cert.subjectName,
    ...validity(options.days ?? 1, options.expired),
    signingAlgorithm: EC,
    publicKey: keys.publicKey,
    signingKey: ca.signer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([options.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.signer.cert),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/** The operator's client certificate: URI SAN `identity` (default OPERATOR_IDENTITY), clientAuth. */
export function issueOperatorCert(ca: CertAuthority, options: { days?: number; identity?: string } = {}): Promise<PemPair> {
  return issueCert(ca, { commonName: 'ticket-key-operator', usage: 'client', uris: [options.identity ?? OPERATOR_IDENTITY], ...(options.days ? { days: options.days } : {}) });
}

/** An agent's serving certificate for one pod ({namespace, pod}) or a workload ({namespace, serviceAccount}). */
export function issueAgentCert(ca: CertAuthority, subject: AgentSubject, options: { days?: number; expired?: boolean } = {}): Promise<PemPair> {
  return issueCert(ca, {
    commonName: 'pod' in subject ? subject.pod : subject.serviceAccount,
    usage: 'server',
    uris: [agentIdentityUri(subject)],
    ...(options.days ? { days: options.days } : {}),
    ...(options.expired ? { expired: true } : {}),
  });
}

/** Whom createDevCerts' agent certificate speaks for unless told: the default workload of `default`. */
export const DEV_AGENT_SUBJECT: AgentSubject = { namespace: 'default', serviceAccount: 'default' };

export interface DevCerts {
  ca: CertAuthority;
  /** Client certificate with the operator identity (URI SAN OPERATOR_IDENTITY). */
  operator: PemPair;
  /** Serving certificate of the agent for `agent` (default DEV_AGENT_SUBJECT). */
  agent: PemPair;
}

export async function createDevCerts(options: { days?: number; agent?: AgentSubject } = {}): Promise<DevCerts> {
  const days = options.days ?? 1;
  const ca = await createCa({ days });
  const operator = await issueOperatorCert(ca, { days });
  const agent = await issueAgentCert(ca, options.agent ?? DEV_AGENT_SUBJECT, { days });
  return { ca, operator, agent };
}

/** File names written by writeDevCerts, as absolute paths. */
export interface DevCertFiles {
  caCert: string;
  caKey: string;
  operatorCert: string;
  operatorKey: string;
  agentCert: string;
  agentKey: string;
}

export function devCertFiles(dir: string): DevCertFiles {
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    operatorCert: join(dir, 'operator.crt'),
    operatorKey: join(dir, 'operator.key'),
    agentCert: join(dir, 'agent.crt'),
    agentKey: join(dir, 'agent.key'),
  };
}

async function writePem(path: string, pem: string, secret: boolean): Promise<void> {
  const mode = secret ? 0o600 : 0o644;
  await writeFile(path, pem, { mode });
  await chmod(path, mode); // writeFile's mode applies only when it creates the file.
}

export async function writeDevCerts(dir: string, certs: DevCerts): Promise<DevCertFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const f = devCertFiles(dir);
  await writePem(f.caCert, certs.ca.cert, false);
  await writePem(f.caKey, certs.ca.key, true);
  await writePem(f.operatorCert, certs.operator.cert, false);
  await writePem(f.operatorKey, certs.operator.key, true);
  await writePem(f.agentCert, certs.agent.cert, false);
  await writePem(f.agentKey, certs.agent.key, true);
  return f;
}
