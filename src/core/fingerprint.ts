// Fingerprints name keys and rings without revealing them: a domain-separated SHA-256 of the
// key bytes, truncated. 384 random bits in, 64 (or 63) bits out: not reversible, and never the
// key_name bytes alone (those travel in clear inside every ticket).
import { createHash } from 'node:crypto';
import { KEY_BYTES, KEY_FINGERPRINT_DOMAIN, RING_FINGERPRINT_DOMAIN } from '../contract/keys.ts';

export { KEY_BYTES };

const KEY_DOMAIN = Buffer.from(`${KEY_FINGERPRINT_DOMAIN}\0`, 'latin1');
const RING_DOMAIN = Buffer.from(`${RING_FINGERPRINT_DOMAIN}\0`, 'latin1');

/** 16 lower-case hex chars identifying one 48-byte key. */
export function keyFingerprint(material: Uint8Array): string {
  return createHash('sha256').update(KEY_DOMAIN).update(material).digest().subarray(0, 8).toString('hex');
}

/**
 * 63-bit fingerprint of a ring in push order (the concatenated ATS bytes), as 16 hex chars.
 * The bridge plugin computes the same value in C (first 8 bytes of SHA-256 over
 * RING_DOMAIN || ring, big-endian, top bit cleared) and publishes it as an int64 stat,
 * so the agent can prove what ATS holds.
 */
export function ringFingerprint(ring: Uint8Array): string {
  const d = createHash('sha256').update(RING_DOMAIN).update(ring).digest();
  const v = d.readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn;
  return v.toString(16).padStart(16, '0');
}

/** The ring fingerprint from the plugin's int64 stat value. */
export function ringFingerprintFromStat(value: bigint): string {
  return (value & 0x7fff_ffff_ffff_ffffn).toString(16).padStart(16, '0');
}
