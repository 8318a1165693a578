// The operator-managed agent CA as a Secret (the only place its private keys rest):
//   ca.crt                 the trust bundle: every CA not yet expired (signer, next, older ones)
//   signer.crt/signer.key  the CA that issues now
//   next.crt/next.key      a CA already trusted that signs once it has propagated (optional)
// and the annotation ticketkeys.dev/next-ca-added-at (RFC 3339) that times the propagation.
// Its content is input like any other: a Secret that does not decode is an error, never overwritten.
import type { V1Secret } from '@kubernetes/client-node';
import type { PemPair } from '../../pki/x509.ts';
import { splitPemBundle } from '../../pki/x509.ts';

export const AGENT_PKI_LABEL = 'ticketkeys.dev/agent-pki';
export const NEXT_CA_ADDED_AT = 'ticketkeys.dev/next-ca-added-at';
/** A Secret holds at most this many CAs in its bundle (a rotation overlaps two; leave slack). */
export const MAX_TRUSTED_CAS = 4;

export interface CaMaterial {
  signer: PemPair;
  next?: PemPair & { addedAt: number };
  /** PEM certificates of every trusted CA (signer and next included). */
  trusted: string[];
}

export class CaSecretError extends Error {
  override readonly name = 'CaSecretError';
}

const text = (secret: V1Secret, key: string): string | undefined => {
  const b64 = secret.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
};

export function decodeCaSecret(secret: V1Secret): CaMaterial {
  const where = `Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`;
  const signerCert = text(secret, 'signer.crt');
  const signerKey = text(secret, 'signer.key');
  const bundle = text(secret, 'ca.crt');
  if (!signerCert || !signerKey || !bundle) throw new CaSecretError(`${where} lacks signer.crt, signer.key or ca.crt`);
  const trusted = splitPemBundle(bundle);
  if (trusted.length === 0 || trusted.length > MAX_TRUSTED_CAS) throw new CaSecretError(`${where}: ca.crt holds ${trusted.length} certificates (1 to ${MAX_TRUSTED_CAS})`);
  const material: CaMaterial = { signer: { cert: signerCert, key: signerKey }, trusted };
  const nextCert = text(secret, 'next.crt');
  const nextKey = text(secret, 'next.key');
  if (nextCert !== undefined || nextKey !== undefined) {
    const addedAt = Date.parse(secret.metadata?.annotations?.[NEXT_CA_ADDED_AT] ?? '');
    if (!nextCert || !nextKey || !Number.isFinite(addedAt)) throw new CaSecretError(`${where}: next.crt, next.key and the ${NEXT_CA_ADDED_AT} annotation go together`);
    material.next = { cert: nextCert, key: nextKey, addedAt };
  }
  return material;
}

/** The Secret for material; base keeps resourceVersion (an update) and foreign metadata. */
export function encodeCaSecret(material: CaMaterial, ref: { namespace: string; name: string }, base?: V1Secret): V1Secret {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const annotations = { ...(base?.metadata?.annotations ?? {}) };
  delete annotations[NEXT_CA_ADDED_AT];
  if (material.next) annotations[NEXT_CA_ADDED_AT] = new Date(material.next.addedAt).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      ...(base?.metadata ?? {}),
      name: ref.name,
      namespace: ref.namespace,
      labels: { ...(base?.metadata?.labels ?? {}), [AGENT_PKI_LABEL]: 'ca', 'app.kubernetes.io/managed-by': 'ticket-key-operator' },
      annotations,
    },
    data: {
      'ca.crt': b64(material.trusted.join('')),
      'signer.crt': b64(material.signer.cert),
      'signer.key': b64(material.signer.key),
      ...(material.next ? { 'next.crt': b64(material.next.cert), 'next.key': b64(material.next.key) } : {}),
    },
  };
}
