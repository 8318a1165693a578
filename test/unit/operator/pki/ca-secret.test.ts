// The CA Secret codec: what it writes reads back, and a Secret that does not decode is refused
// (the PKI then never overwrites it: it could hold the only copy of a CA key).
import { describe, expect, it } from '@jest/globals';
import type { V1Secret } from '@kubernetes/client-node';
import { CaSecretError, decodeCaSecret, encodeCaSecret, NEXT_CA_ADDED_AT } from '../../../../src/operator/pki/ca-secret.ts';
import { createCa as createRawCa, pemLine } from '../../../../src/pki/x509.ts';

/** CAs as the PKI keeps them: PEM blocks ending in a newline. */
const createCa = async () => {
  const ca = await createRawCa();
  return { cert: pemLine(ca.cert), key: ca.key };
};

const ref = { namespace: 'ops', name: 'tko-agent-ca' };

describe('CA Secret codec', () => {
  it('round-trips signer, next CA, trust bundle and the propagation start, keeping foreign metadata', async () => {
    const [a, b] = await Promise.all([createCa(), createCa()]);
    const material = { signer: { cert: a.cert, key: a.key }, next: { cert: b.cert, key: b.key, addedAt: Date.parse('2026-12-06T10:00:00Z') }, trusted: [a.cert, b.cert] };
    const base: V1Secret = { metadata: { name: ref.name, namespace: ref.namespace, resourceVersion: '42', labels: { team: 'edge' }, annotations: { note: 'x' } } };
    const secret = encodeCaSecret(material, ref, base);
    expect(secret.metadata?.resourceVersion).toBe('42');
    expect(secret.metadata?.labels).toMatchObject({ team: 'edge', 'ticketkeys.dev/agent-pki': 'ca' });
    expect(secret.metadata?.annotations).toEqual({ note: 'x', [NEXT_CA_ADDED_AT]: '2026-12-06T10:00:00.000Z' });
    expect(decodeCaSecret(secret)).toEqual(material);
    const promoted = encodeCaSecret({ signer: material.next && { cert: b.cert, key: b.key }, trusted: [a.cert, b.cert] }, ref, secret);
    expect(promoted.data?.['next.crt']).toBeUndefined();
    expect(promoted.metadata?.annotations?.[NEXT_CA_ADDED_AT]).toBeUndefined();
  });

  it.each([
    ['without a signer key', (s: V1Secret) => delete s.data!['signer.key']],
    ['with an empty bundle', (s: V1Secret) => (s.data!['ca.crt'] = '')],
    ['with a bundle of junk', (s: V1Secret) => (s.data!['ca.crt'] = Buffer.from('not a certificate').toString('base64'))],
    ['with a next CA but no propagation start', (s: V1Secret) => (s.data!['next.crt'] = s.data!['signer.crt']!) && (s.data!['next.key'] = s.data!['signer.key']!)],
  ])('refuses a Secret %s', async (_what, damage) => {
    const a = await createCa();
    const secret = encodeCaSecret({ signer: { cert: a.cert, key: a.key }, trusted: [a.cert] }, ref);
    damage(secret);
    expect(() => decodeCaSecret(secret)).toThrow(CaSecretError);
  });
});
