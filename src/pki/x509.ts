// X.509 for the agent mutual TLS of docs/agent.md's trust model: a CA, the operator's client
// certificate (URI SAN OPERATOR_IDENTITY, clientAuth) and agents' serving certificates whose URI
// SAN names a pod or a service account. The operator's own PKI (src/operator/pki) issues with
// these; so do `tko dev certs` and the tests' fleets.
import { webcrypto } from 'node:crypto';
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
  /** Extended key usage: serverAuth, clientAuth, or both (agents: they serve the operator and dial their peers). */
  usage: 'server' | 'client' | 'server-and-client';
  dnsNames?: string[];
  ipAddresses?: string[];
  /** URI SANs: the identities of docs/agent.md's trust model. */
  uris?: string[];
  days?: number;
  /** Lifetime in ms (wins over days); capped at the CA's notAfter. */
  validityMs?: number;
  /** Issue an already-expired certificate (tests of expiry). */
  expired?: boolean;
}

/** Lifetime from now: validityMs wins over days; notAfter never beyond `cap` (the issuing CA's end). */
function validity(o: { days?: number; validityMs?: number; expired?: boolean; cap?: Date }): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  if (o.expired) return { notBefore: new Date(now - 2 * DAY_MS), notAfter: new Date(now - DAY_MS) };
  const end = now + (o.validityMs ?? (o.days ?? 1) * DAY_MS);
  return { notBefore: new Date(now - SKEW_MS), notAfter: new Date(o.cap ? Math.min(end, o.cap.getTime()) : end) };
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

export async function createCa(options: { commonName?: string; days?: number; validityMs?: number } = {}): Promise<CertAuthority> {
  const x509 = await x509Lib();
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [options.commonName ?? 'ticket-key-operator dev CA'] }],
    ...validity(options),
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
    ...validity({ ...options, cap: ca.signer.cert.notAfter }),
    signingAlgorithm: EC,
    publicKey: keys.publicKey,
    signingKey: ca.signer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        ...(options.usage === 'client' ? [] : [x509.ExtendedKeyUsage.serverAuth]),
        ...(options.usage === 'server' ? [] : [x509.ExtendedKeyUsage.clientAuth]),
      ]),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.signer.cert),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/** The operator's client certificate: URI SAN `identity` (default OPERATOR_IDENTITY), clientAuth. */
export function issueOperatorCert(ca: CertAuthority, options: { days?: number; validityMs?: number; identity?: string } = {}): Promise<PemPair> {
  return issueCert(ca, {
    commonName: 'ticket-key-operator',
    usage: 'client',
    uris: [options.identity ?? OPERATOR_IDENTITY],
    ...(options.days ? { days: options.days } : {}),
    ...(options.validityMs ? { validityMs: options.validityMs } : {}),
  });
}

/**
 * An agent's certificate for one pod ({namespace, pod}) or a workload ({namespace, serviceAccount}):
 * serverAuth (the operator and peers dial it) and clientAuth (it dials its peers to share TLS
 * sessions, POST /v1/sessions).
 */
export function issueAgentCert(ca: CertAuthority, subject: AgentSubject, options: { days?: number; validityMs?: number; expired?: boolean } = {}): Promise<PemPair> {
  return issueCert(ca, {
    commonName: 'pod' in subject ? subject.pod : subject.serviceAccount,
    usage: 'server-and-client',
    uris: [agentIdentityUri(subject)],
    ...(options.days ? { days: options.days } : {}),
    ...(options.validityMs ? { validityMs: options.validityMs } : {}),
    ...(options.expired ? { expired: true } : {}),
  });
}


/** What renewal and rotation decisions need of a certificate: its lifetime and whose key signed it. */
export interface CertificateFacts {
  notBefore: number;
  /** When it was made: notBefore without the back-dating for clock skew (renewal counts from here). */
  issuedAt: number;
  notAfter: number;
  /** Subject key identifier (hex): a CA's identity in the bundle. */
  subjectKeyId: string | undefined;
  /** Authority key identifier (hex): which CA issued it. */
  authorityKeyId: string | undefined;
  uris: string[];
}

export async function certificateFacts(pem: string): Promise<CertificateFacts> {
  const x509 = await x509Lib();
  const cert = new x509.X509Certificate(pem);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return {
    notBefore: cert.notBefore.getTime(),
    issuedAt: Math.min(cert.notBefore.getTime() + SKEW_MS, cert.notAfter.getTime()),
    notAfter: cert.notAfter.getTime(),
    subjectKeyId: ski?.keyId,
    authorityKeyId: aki?.keyId,
    uris: (san?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value),
  };
}

/** A PEM block ending in a newline, so blocks concatenate into a bundle OpenSSL reads. */
export function pemLine(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** The PEM certificates of a bundle, in order (each ending in a newline). */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((pem) => `${pem}\n`) ?? [];
}
