// Checks TLS material before it replaces what is in use: a certificate and key that belong
// together, and a CA bundle holding at least one CA certificate (several while a CA rotation
// overlaps). OpenSSL alone accepts a bundle with nothing usable in it, and the mistake would
// only show as every handshake failing.
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';

export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
  /** PEM bundle of CA certificates. */
  ca: string | Buffer;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Throws when a PEM bundle holds no certificate or one that is not a CA. */
function checkCaBundle(pem: string | Buffer): void {
  const blocks = pem.toString('utf8').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error('the CA bundle holds no PEM certificate');
  blocks.forEach((b, i) => {
    if (!new X509Certificate(b).ca) throw new Error(`certificate ${i + 1} of the CA bundle is not a CA certificate`);
  });
}

/** Throws (with OpenSSL's reason, never key bytes) unless the material can serve a handshake. */
export function checkTlsMaterial(m: TlsMaterial): void {
  checkCaBundle(m.ca);
  try {
    createSecureContext({ cert: m.cert, key: m.key, ca: m.ca });
  } catch (err) {
    throw new Error(`certificate and key unusable together: ${(err as Error).message}`);
  }
}
