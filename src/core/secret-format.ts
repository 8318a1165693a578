// The format of the operator-owned Secret `<name>-ticket-keys` (named by api/names.ts
// secretName): the one place key bytes live at rest. This module is its one owner; the store
// (operator/kube/secret-store.ts) only moves what it produces. What is written:
//   data['ring.json']  the whole RotationState: keys with states, timestamps and material
//                      (base64), generation, phase, schedule times, push attempts, and the
//                      handled rotate-now / revoke tokens (their only place)
//   data['ticket.key'] the ATS binary ring in push order (for users who need a key file)
//   annotations        generation, phase and ring fingerprint: copies of ring.json readable
//                      without decoding data, checked against it on every read
// Data values are the API's base64 strings, so the store hands them to the API server as they
// are (one conversion of the bytes each way, here).
// Earlier versions also wrote the handled tokens as annotations (RETIRED_ANNOTATIONS); they
// were never read back. A Secret that carries them still loads (they are ignored) and loses
// them on its next write (secretAnnotations).
// decodeSecret validates everything before it builds anything: it returns a whole state or
// throws a SecretFormatError whose message never contains bytes (not even a JSON parser's
// excerpt of the input).
import { timingSafeEqual } from 'node:crypto';
import { KEY_BYTES, keyFingerprint, ringFingerprint } from './fingerprint.ts';
import { KeyMaterial, zeroize } from './key-material.ts';
import { encodeRing, MAX_RING_KEYS } from './ring.ts';
import { KEY_STATES, normalizeState, PHASES, stateProblems, type RingKey, type RotationState } from './state.ts';
import { LABEL_PREFIX } from '../api/names.ts';

export const SECRET_FORMAT_VERSION = 1;
export const RING_JSON_KEY = 'ring.json';
export const TICKET_KEY_FILE = 'ticket.key';
export const GENERATION_ANNOTATION = `${LABEL_PREFIX}generation`;
export const PHASE_ANNOTATION = `${LABEL_PREFIX}phase`;
export const RING_FINGERPRINT_ANNOTATION = `${LABEL_PREFIX}ring-fingerprint`;
/**
 * Annotations earlier versions wrote beside ring.json (the handled rotate-now and revoke
 * tokens, which ring.json holds too and which are read from there only). Never read; removed
 * on the next write.
 */
export const RETIRED_ANNOTATIONS: readonly string[] = [`${LABEL_PREFIX}rotate-now-handled`, `${LABEL_PREFIX}revoke-handled`];

/** The parts of a Kubernetes Secret this format owns (data values are base64, as in the API). */
export interface SecretPayload {
  data: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * The annotations a Secret carries after `payload` is written over one that had `existing`:
 * this format's annotations replaced, retired ones dropped, everybody else's kept.
 */
export function secretAnnotations(existing: Readonly<Record<string, string>>, payload: SecretPayload): Record<string, string> {
  const out: Record<string, string> = { ...existing };
  for (const name of RETIRED_ANNOTATIONS) delete out[name];
  return Object.assign(out, payload.annotations);
}

export type SecretFormatErrorCode =
  | 'missing'
  | 'bad-base64'
  | 'bad-json'
  | 'unknown-version'
  | 'bad-field'
  | 'bad-key-length'
  | 'fingerprint-mismatch'
  | 'ticket-key-mismatch'
  | 'annotation-mismatch'
  | 'inconsistent-state';

export class SecretFormatError extends Error {
  override name = 'SecretFormatError';
  readonly code: SecretFormatErrorCode;
  constructor(code: SecretFormatErrorCode, message: string) {
    super(`Secret holds no usable ticket-key state: ${message}`);
    this.code = code;
  }
}

interface KeyJson {
  fingerprint: string;
  state: string;
  material: string;
  createdAt: string;
  promotedAt?: string;
  retiredAt?: string;
  expiresAt?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The Secret's data (the API's base64 strings) and this format's annotations for a state, which
 * must be consistent and hold a ring; SecretFormatError('inconsistent-state') otherwise.
 */
export function encodeSecret(state: RotationState): SecretPayload {
  const problems = stateProblems(state);
  if (state.keys.length === 0) problems.push('no keys to persist');
  if (problems.length > 0) throw new SecretFormatError('inconsistent-state', problems.join('; '));
  const s = normalizeState(state);
  const keys: KeyJson[] = s.keys.map((k) => {
    const out: KeyJson = { fingerprint: k.material.fingerprint, state: k.state, material: '', createdAt: iso(k.createdAt) };
    const bytes = k.material.copyBytes();
    out.material = bytes.toString('base64');
    zeroize(bytes);
    if (k.promotedAt !== undefined) out.promotedAt = iso(k.promotedAt);
    if (k.retiredAt !== undefined) out.retiredAt = iso(k.retiredAt);
    if (k.expiresAt !== undefined) out.expiresAt = iso(k.expiresAt);
    return out;
  });
  const doc: Record<string, unknown> = { version: SECRET_FORMAT_VERSION, generation: s.generation, phase: s.phase, keys };
  for (const f of TIME_FIELDS) if (s[f] !== undefined) doc[f] = iso(s[f]);
  for (const f of TOKEN_FIELDS) if (s[f] !== undefined) doc[f] = s[f];
  doc.pushAttempts = s.pushAttempts;
  // Every Buffer made here holds key bytes and is zeroed (the strings cannot be).
  const json = Buffer.from(JSON.stringify(doc));
  const ring = encodeRing(s.keys.map((k) => k.material));
  try {
    return {
      data: {
        [RING_JSON_KEY]: json.toString('base64'),
        [TICKET_KEY_FILE]: ring.toString('base64'),
      },
      annotations: {
        [GENERATION_ANNOTATION]: String(s.generation),
        [PHASE_ANNOTATION]: s.phase,
        [RING_FINGERPRINT_ANNOTATION]: ringFingerprint(ring),
      },
    };
  } finally {
    zeroize(json, ring);
  }
}

const TIME_FIELDS = ['lastRotationTime', 'nextRotationTime', 'stagedAt', 'phaseTimedOutAt', 'nextPushRetryAt', 'regeneratedAt'] as const;
const TOKEN_FIELDS = ['handledRotateNowToken', 'handledRevokeToken', 'regeneratedBecause'] as const;
const KEY_TIME_FIELDS = ['promotedAt', 'retiredAt', 'expiresAt'] as const;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The state stored in a Secret (data as the API's base64 strings); throws SecretFormatError,
 * never returns a partial state. Annotations other than this format's three are ignored
 * (RETIRED_ANNOTATIONS included: the handled tokens are read from ring.json).
 */
export function decodeSecret(secret: { data?: Record<string, string> | undefined; annotations?: Record<string, string> | undefined }): RotationState {
  const data = secret.data ?? {};
  const annotations = secret.annotations ?? {};
  const fail = (code: SecretFormatErrorCode, message: string): never => {
    throw new SecretFormatError(code, message);
  };
  const ringJsonB64 = data[RING_JSON_KEY];
  const ticketKeyB64 = data[TICKET_KEY_FILE];
  if (ringJsonB64 === undefined) fail('missing', `data["${RING_JSON_KEY}"] is missing`);
  if (ticketKeyB64 === undefined) fail('missing', `data["${TICKET_KEY_FILE}"] is missing`);
  if (!BASE64.test(ringJsonB64!)) fail('bad-base64', `data["${RING_JSON_KEY}"] is not base64`);
  if (!BASE64.test(ticketKeyB64!)) fail('bad-base64', `data["${TICKET_KEY_FILE}"] is not base64`);

  let doc: unknown;
  const json = Buffer.from(ringJsonB64!, 'base64');
  try {
    doc = JSON.parse(json.toString('utf8'));
  } catch {
    // The parser's message quotes the input (which holds key material): say only where.
    fail('bad-json', `data["${RING_JSON_KEY}"] is not valid JSON`);
  } finally {
    zeroize(json);
  }
  if (!isObject(doc)) return fail('bad-json', `data["${RING_JSON_KEY}"] is not a JSON object`);
  if (doc.version !== SECRET_FORMAT_VERSION) {
    fail('unknown-version', `${RING_JSON_KEY} has version ${safeShow(doc.version)}; this operator reads version ${SECRET_FORMAT_VERSION}`);
  }
  const field = (path: string, why: string): never => fail('bad-field', `${RING_JSON_KEY}: ${path} ${why}`);
  const time = (path: string, v: unknown): number => {
    if (typeof v !== 'string' || !ISO_UTC.test(v) || !Number.isFinite(Date.parse(v))) {
      return field(path, 'must be an RFC 3339 UTC timestamp with milliseconds');
    }
    return Date.parse(v);
  };
  const optTime = (path: string, v: unknown): number | undefined => (v === undefined ? undefined : time(path, v));

  if (!Number.isSafeInteger(doc.generation) || (doc.generation as number) < 1) field('generation', 'must be an integer >= 1');
  if (typeof doc.phase !== 'string' || !(PHASES as readonly string[]).includes(doc.phase)) {
    field('phase', `must be one of ${PHASES.join(', ')}`);
  }
  if (!Number.isSafeInteger(doc.pushAttempts) || (doc.pushAttempts as number) < 0) field('pushAttempts', 'must be a non-negative integer');
  for (const f of TOKEN_FIELDS) if (doc[f] !== undefined && typeof doc[f] !== 'string') field(f, 'must be a string');
  const times: Partial<Record<(typeof TIME_FIELDS)[number], number>> = {};
  for (const f of TIME_FIELDS) times[f] = optTime(f, doc[f]);
  if (!Array.isArray(doc.keys) || doc.keys.length === 0 || doc.keys.length > MAX_RING_KEYS) {
    field('keys', `must be a list of 1 to ${MAX_RING_KEYS} keys`);
  }

  // Check every key before building any KeyMaterial; temporary buffers are zeroed either way.
  const rawKeys = doc.keys as unknown[];
  const buffers: Buffer[] = [];
  try {
    const parsed = rawKeys.map((raw, i) => {
      const at = `keys[${i}]`;
      if (!isObject(raw)) return field(at, 'must be an object');
      if (typeof raw.state !== 'string' || !(KEY_STATES as readonly string[]).includes(raw.state)) {
        field(`${at}.state`, `must be one of ${KEY_STATES.join(', ')}`);
      }
      if (typeof raw.fingerprint !== 'string' || !/^[0-9a-f]{16}$/.test(raw.fingerprint)) field(`${at}.fingerprint`, 'must be 16 hex characters');
      if (typeof raw.material !== 'string' || !BASE64.test(raw.material)) field(`${at}.material`, 'must be base64');
      const bytes = Buffer.from(raw.material as string, 'base64');
      buffers.push(bytes);
      if (bytes.length !== KEY_BYTES) fail('bad-key-length', `${at}.material is ${bytes.length} bytes; a key is ${KEY_BYTES}`);
      if (keyFingerprint(bytes) !== raw.fingerprint) fail('fingerprint-mismatch', `${at}.material does not match its fingerprint ${raw.fingerprint as string}`);
      const key: Record<string, unknown> = { bytes, state: raw.state, createdAt: time(`${at}.createdAt`, raw.createdAt) };
      for (const f of KEY_TIME_FIELDS) key[f] = optTime(`${at}.${f}`, raw[f]);
      return key;
    });

    const ticketKey = Buffer.from(ticketKeyB64!, 'base64');
    buffers.push(ticketKey);
    const ring = Buffer.concat(parsed.map((k) => k.bytes as Buffer));
    buffers.push(ring);
    if (ticketKey.length !== ring.length || !timingSafeEqual(ticketKey, ring)) {
      fail('ticket-key-mismatch', `data["${TICKET_KEY_FILE}"] is not the ring of ${RING_JSON_KEY} in push order`);
    }
    const ringFp = ringFingerprint(ring);
    const expect: Record<string, string> = {
      [GENERATION_ANNOTATION]: String(doc.generation),
      [PHASE_ANNOTATION]: doc.phase as string,
      [RING_FINGERPRINT_ANNOTATION]: ringFp,
    };
    for (const [name, want] of Object.entries(expect)) {
      const got = annotations[name];
      if (got !== want) {
        fail('annotation-mismatch', `annotation ${name} is ${got === undefined ? 'missing' : JSON.stringify(got.slice(0, 64))}; ${RING_JSON_KEY} says ${JSON.stringify(want)}`);
      }
    }

    const keys: RingKey[] = parsed.map((k) => ({
      material: KeyMaterial.fromBytes(k.bytes as Buffer),
      state: k.state as RingKey['state'],
      createdAt: k.createdAt as number,
      promotedAt: k.promotedAt as number | undefined,
      retiredAt: k.retiredAt as number | undefined,
      expiresAt: k.expiresAt as number | undefined,
    }));
    const state = normalizeState({
      generation: doc.generation as number,
      phase: doc.phase as RotationState['phase'],
      keys,
      ...times,
      handledRotateNowToken: doc.handledRotateNowToken as string | undefined,
      handledRevokeToken: doc.handledRevokeToken as string | undefined,
      regeneratedBecause: doc.regeneratedBecause as string | undefined,
      pushAttempts: doc.pushAttempts as number,
    });
    const problems = stateProblems(state);
    if (problems.length > 0) {
      for (const k of keys) k.material.destroy();
      fail('inconsistent-state', problems.join('; '));
    }
    return state;
  } finally {
    zeroize(...buffers);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Shows a small scalar from the document (never an object, which could hold material). */
function safeShow(v: unknown): string {
  return typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined ? String(v) : typeof v;
}
