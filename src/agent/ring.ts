// A validated ring held by the agent: key bytes in Buffers the agent owns (zeroed when
// dropped) plus the fingerprints that name them everywhere else.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { KEY_BYTES, type KeyState } from '../contract/agent-wire.ts';
import { keyFingerprint, ringFingerprint } from '../core/fingerprint.ts';
import { ApiError } from './api-error.ts';
import { PutRingRequest } from './protocol.ts';

const checkPutRing = TypeCompiler.Compile(PutRingRequest);

export interface Ring {
  readonly generation: number;
  readonly revoke: boolean;
  /** Push order; keys[0] encrypts. 48 bytes each. */
  readonly keys: Buffer[];
  readonly states: KeyState[];
  readonly keyFingerprints: string[];
  readonly ringFingerprint: string;
  readonly activeFingerprint: string;
}

/** Overwrites the key bytes; the ring is unusable afterwards. */
export function zeroRing(ring: Ring): void {
  for (const k of ring.keys) k.fill(0);
}

/**
 * Strict decode of a PUT /v1/ring body. Throws ApiError(400) whose message names the field
 * and the rule broken, never the value.
 */
export function decodeRing(body: unknown): Ring {
  if (!checkPutRing.Check(body)) {
    const first = checkPutRing.Errors(body).First();
    // TypeBox messages describe the rule ("Expected integer"), not the value.
    const where = first?.path || '/';
    throw new ApiError(400, 'bad_request', `invalid ring: ${where}: ${first?.message ?? 'does not match the schema'}`);
  }
  const keys: Buffer[] = [];
  try {
    const seen = new Set<string>();
    body.keys.forEach((k, i) => {
      const bytes = Buffer.from(k.material, 'base64');
      keys.push(bytes);
      // Buffer.from is lenient; re-encoding proves the text was canonical base64 of 48 bytes.
      if (bytes.length !== KEY_BYTES || bytes.toString('base64') !== k.material) {
        throw new ApiError(400, 'bad_request', `invalid ring: /keys/${i}/material must be base64 of exactly ${KEY_BYTES} bytes`);
      }
      if (keyFingerprint(bytes) !== k.fingerprint) {
        throw new ApiError(400, 'bad_request', `invalid ring: /keys/${i}/fingerprint does not match its material`);
      }
      if (seen.has(k.fingerprint)) throw new ApiError(400, 'bad_request', `invalid ring: /keys/${i} repeats an earlier key`);
      seen.add(k.fingerprint);
      // Exactly one key encrypts, and ATS encrypts with the first one.
      if ((i === 0) !== (k.state === 'active')) {
        throw new ApiError(400, 'bad_request', `invalid ring: /keys/${i}/state: keys[0] must be 'active' and no other key may be`);
      }
    });
  } catch (err) {
    for (const k of keys) k.fill(0);
    throw err;
  }
  const all = Buffer.concat(keys);
  const ringFp = ringFingerprint(all);
  all.fill(0);
  const keyFingerprints = body.keys.map((k) => k.fingerprint);
  return {
    generation: body.generation,
    revoke: body.revoke ?? false,
    keys,
    states: body.keys.map((k) => k.state),
    keyFingerprints,
    ringFingerprint: ringFp,
    activeFingerprint: keyFingerprints[0]!,
  };
}
