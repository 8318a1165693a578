import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { secretName } from '../../../src/api/names.ts';
import { ringFingerprint } from '../../../src/core/fingerprint.ts';
import { KeyMaterial } from '../../../src/core/key-material.ts';
import { encodeRing } from '../../../src/core/ring.ts';
import {
  decodeSecret,
  encodeSecret,
  GENERATION_ANNOTATION,
  PHASE_ANNOTATION,
  RING_FINGERPRINT_ANNOTATION,
  RETIRED_ANNOTATIONS,
  RING_JSON_KEY,
  secretAnnotations,
  SecretFormatError,
  TICKET_KEY_FILE,
  type SecretPayload,
} from '../../../src/core/secret-format.ts';
import { initialState, ringMaterial, sameState, type RotationState } from '../../../src/core/state.ts';
import { step } from '../../../src/core/step.ts';
import { seededRandom } from '../../fixtures/keys.ts';
import { HOUR, pod, policy, T0 } from './support.ts';

/** A state with an active, a staged and a retired key, every optional field set. */
function richState(seed = 1): RotationState {
  const random = seededRandom(seed);
  const pol = policy({ rotateNowToken: 'r1', revokeToken: 'v1', ticketLifetimeMs: 48 * HOUR });
  const pods = [pod('a')];
  let s = step(initialState(), { pods }, pol, T0, { random }).state;
  const ack = (st: RotationState) => [pod('a', { acked: { generation: st.generation, ringFingerprint: ringFingerprint(encodeRing(ringMaterial(st))) } })];
  s = step(s, { pods: ack(s) }, pol, T0 + 12 * HOUR, { random }).state; // staged
  s = step(s, { pods: ack(s) }, pol, T0 + 12 * HOUR + 1000, { random }).state; // promoted
  s = step(s, { pods: ack(s) }, pol, T0 + 12 * HOUR + 2000, { random }).state; // stable
  s = step(s, { pods: [pod('a', { error: 'boom' })] }, pol, T0 + 24 * HOUR + 2000, { random }).state; // staged, retrying
  s = step(s, { pods: [pod('a', { error: 'boom' })] }, pol, T0 + 25 * HOUR, { random }).state; // timed out
  return s;
}

function decodeError(secret: { data?: Record<string, string>; annotations?: Record<string, string> }): SecretFormatError {
  try {
    decodeSecret(secret);
  } catch (err) {
    if (err instanceof SecretFormatError) return err;
    throw err;
  }
  throw new Error('decodeSecret accepted the input');
}

const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');
const readDoc = (p: SecretPayload): Record<string, unknown> => JSON.parse(Buffer.from(p.data[RING_JSON_KEY]!, 'base64').toString()) as Record<string, unknown>;
const withDoc = (p: SecretPayload, edit: (doc: Record<string, unknown>) => void): SecretPayload => {
  const doc = readDoc(p);
  edit(doc);
  return { annotations: { ...p.annotations }, data: { ...p.data, [RING_JSON_KEY]: b64json(doc) } };
};

describe('the ticket-keys Secret', () => {
  it('is named <name>-ticket-keys', () => {
    expect(secretName('edge')).toBe('edge-ticket-keys');
  });

  it('round-trips a state with staged, active and retired keys and every optional field', () => {
    const s = richState();
    expect(s.keys.map((k) => k.state)).toEqual(['active', 'staged', 'retired']);
    expect(s).toHaveProperty('phaseTimedOutAt');
    expect(s).toHaveProperty('nextPushRetryAt');
    const back = decodeSecret(encodeSecret(s));
    expect(sameState(back, s)).toBe(true);
    expect(back).toEqual(s);
    back.keys.forEach((k, i) => expect(k.material.equals(s.keys[i]!.material)).toBe(true));
  });

  it('round-trips every state the state machine produces along random walks', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer({ min: 0, max: 30 * HOUR }), { minLength: 1, maxLength: 8 }), (seed, gaps) => {
        const random = seededRandom(seed);
        let s = initialState();
        let now = T0;
        for (const gap of gaps) {
          now += gap;
          s = step(s, { pods: [pod('a', { error: gap % 2 ? 'x' : undefined })] }, policy({ rotateNowToken: String(gap % 3) }), now, { random }).state;
          expect(decodeSecret(encodeSecret(s))).toEqual(s);
        }
      }),
      { numRuns: 200 },
    );
  });

  // spec.fileFallback: a reload of the mounted ticket.key may only load the ring the pods were
  // pushed. Every step that pushes persists first, and the persisted file is the pushed ring,
  // byte for byte, in every phase (Staging pushes [active, staged, retired…]; Revoking too).
  it('persists ticket.key equal to the pushed ring, before the push, in every phase', () => {
    const phases = new Set<string>();
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.tuple(fc.integer({ min: 0, max: 30 * HOUR }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 10 }), (seed, moves) => {
        const random = seededRandom(seed);
        let s = initialState();
        let now = T0;
        for (const [gap, move] of moves) {
          now += gap;
          const acked = s.keys.length > 0 ? { generation: s.generation, ringFingerprint: ringFingerprint(encodeRing(ringMaterial(s))) } : undefined;
          const pods = [pod('a', move === 0 ? { error: 'x' } : acked ? { acked } : {})];
          const r = step(s, { pods }, policy({ revokeToken: move === 3 ? `v${gap}` : undefined }), now, { random });
          const persistAt = r.actions.findIndex((a) => a.kind === 'persist');
          const pushAt = r.actions.findIndex((a) => a.kind === 'push');
          const persist = r.actions[persistAt];
          const push = r.actions[pushAt];
          if (push?.kind === 'push') {
            phases.add(r.state.phase);
            const pushed = Buffer.concat(push.ring.map((k) => k.material.copyBytes()));
            // The file a reload would read: the one persisted by this step, or the stored one.
            const fileState = persist?.kind === 'persist' ? persist.state : s;
            if (persist?.kind === 'persist') expect(persistAt).toBeLessThan(pushAt);
            const file = Buffer.from(encodeSecret(fileState).data[TICKET_KEY_FILE]!, 'base64');
            expect(file.equals(pushed)).toBe(true);
            pushed.fill(0);
            file.fill(0);
          }
          s = r.state;
        }
      }),
      { numRuns: 200 },
    );
    expect([...phases].sort()).toEqual(expect.arrayContaining(['Revoking', 'Stable', 'Staging']));
  });

  it('writes ring.json, ticket.key in push order, and generation/phase/ring-fingerprint annotations', () => {
    const s = richState();
    const p = encodeSecret(s);
    expect(Object.keys(p.data).sort()).toEqual([RING_JSON_KEY, TICKET_KEY_FILE]);
    const ring = encodeRing(ringMaterial(s));
    expect(Buffer.from(p.data[TICKET_KEY_FILE]!, 'base64').equals(ring)).toBe(true);
    expect(p.annotations).toEqual({
      [GENERATION_ANNOTATION]: String(s.generation),
      [PHASE_ANNOTATION]: 'Staging',
      [RING_FINGERPRINT_ANNOTATION]: ringFingerprint(ring),
    });
    const doc = readDoc(p);
    expect(doc).toMatchObject({ version: 1, generation: s.generation, phase: 'Staging', handledRotateNowToken: 'r1', handledRevokeToken: 'v1' });
    expect((doc.keys as { state: string; fingerprint: string; createdAt: string }[]).map((k) => [k.state, k.fingerprint])).toEqual(
      s.keys.map((k) => [k.state, k.material.fingerprint]),
    );
    expect((doc.keys as { createdAt: string }[])[0]!.createdAt).toBe(new Date(s.keys[0]!.createdAt).toISOString());
  });

  it('refuses to encode an inconsistent or empty state', () => {
    expect(() => encodeSecret(initialState())).toThrow(/no keys to persist/);
    const s = richState();
    expect(() => encodeSecret({ ...s, phase: 'Stable' })).toThrow(SecretFormatError);
  });

  describe('rejects corrupted input with a typed error and no bytes', () => {
    const good = encodeSecret(richState());
    const material = richState().keys.map((k) => k.material.copyBytes());
    const cases: [string, SecretFormatError['code'], () => { data?: Record<string, string>; annotations?: Record<string, string> }][] = [
      ['no data at all', 'missing', () => ({})],
      ['ring.json missing', 'missing', () => ({ ...good, data: { [TICKET_KEY_FILE]: good.data[TICKET_KEY_FILE]! } })],
      ['ticket.key missing', 'missing', () => ({ ...good, data: { [RING_JSON_KEY]: good.data[RING_JSON_KEY]! } })],
      ['ring.json not base64', 'bad-base64', () => ({ ...good, data: { ...good.data, [RING_JSON_KEY]: 'not base64!' } })],
      ['ticket.key not base64', 'bad-base64', () => ({ ...good, data: { ...good.data, [TICKET_KEY_FILE]: '@@@@' } })],
      ['ring.json not JSON', 'bad-json', () => ({ ...good, data: { ...good.data, [RING_JSON_KEY]: Buffer.from(`{"keys": "${material[0]!.toString('base64')}`).toString('base64') } })],
      ['ring.json a JSON array', 'bad-json', () => ({ ...good, data: { ...good.data, [RING_JSON_KEY]: b64json([1]) } })],
      ['unknown version', 'unknown-version', () => withDoc(good, (d) => (d.version = 2))],
      ['version as an object', 'unknown-version', () => withDoc(good, (d) => (d.version = { material: material[0]!.toString('base64') }))],
      ['generation zero', 'bad-field', () => withDoc(good, (d) => (d.generation = 0))],
      ['unknown phase', 'bad-field', () => withDoc(good, (d) => (d.phase = 'Exploding'))],
      ['bad timestamp', 'bad-field', () => withDoc(good, (d) => (d.nextRotationTime = 'tomorrow'))],
      ['no keys', 'bad-field', () => withDoc(good, (d) => (d.keys = []))],
      ['17 keys', 'bad-field', () => withDoc(good, (d) => (d.keys = Array.from({ length: 17 }, () => (d.keys as unknown[])[0])))],
      ['unknown key state', 'bad-field', () => withDoc(good, (d) => ((d.keys as Record<string, unknown>[])[0]!.state = 'pending'))],
      ['key of 32 bytes', 'bad-key-length', () => withDoc(good, (d) => ((d.keys as Record<string, unknown>[])[0]!.material = material[0]!.subarray(0, 32).toString('base64')))],
      ['key of 80 bytes', 'bad-key-length', () => withDoc(good, (d) => ((d.keys as Record<string, unknown>[])[0]!.material = Buffer.concat([material[0]!, material[1]!]).subarray(0, 80).toString('base64')))],
      ['fingerprint mismatch', 'fingerprint-mismatch', () => withDoc(good, (d) => ((d.keys as Record<string, unknown>[])[0]!.material = material[1]!.toString('base64')))],
      ['ticket.key of another order', 'ticket-key-mismatch', () => ({ ...good, data: { ...good.data, [TICKET_KEY_FILE]: Buffer.concat([material[1]!, material[0]!, material[2]!]).toString('base64') } })],
      ['ticket.key truncated', 'ticket-key-mismatch', () => ({ ...good, data: { ...good.data, [TICKET_KEY_FILE]: Buffer.concat([material[0]!, material[1]!]).toString('base64') } })],
      ['generation annotation differs', 'annotation-mismatch', () => ({ ...good, annotations: { ...good.annotations, [GENERATION_ANNOTATION]: '1' } })],
      ['phase annotation missing', 'annotation-mismatch', () => ({ ...good, annotations: { [GENERATION_ANNOTATION]: good.annotations[GENERATION_ANNOTATION]! } })],
      ['two active keys', 'inconsistent-state', () => {
        const p = withDoc(good, (d) => ((d.keys as Record<string, unknown>[])[1]!.state = 'active'));
        return p;
      }],
    ];

    it.each(cases)('%s → %s', (_name, code, make) => {
      const err = decodeError(make());
      expect(err.code).toBe(code);
      expect(err.message).toMatch(/^Secret holds no usable ticket-key state: /);
      for (const m of material) {
        expect(err.message).not.toContain(m.toString('base64'));
        expect(err.message).not.toContain(m.subarray(0, 12).toString('base64'));
        expect(err.message).not.toContain(m.toString('hex').slice(0, 24));
      }
    });

    it('two active keys is reported as an inconsistent state, naming the rule', () => {
      expect(decodeError(cases.find((c) => c[0] === 'two active keys')![2]()).message).toContain('exactly one key must be active');
    });
  });

  it('never returns a partial state: single-byte corruptions of ring.json either decode to the same state or fail cleanly', () => {
    const s = richState();
    const good = encodeSecret(s);
    const json = Buffer.from(good.data[RING_JSON_KEY]!, 'base64');
    fc.assert(
      fc.property(fc.nat({ max: json.length - 1 }), fc.integer({ min: 32, max: 126 }), (at, byte) => {
        const bad = Buffer.from(json);
        bad[at] = byte;
        let decoded: RotationState | undefined;
        try {
          decoded = decodeSecret({ ...good, data: { ...good.data, [RING_JSON_KEY]: bad.toString('base64') } });
        } catch (err) {
          expect(err).toBeInstanceOf(SecretFormatError);
          return;
        }
        // Accepted only if the change did not alter the meaning (e.g. an unknown field or a token).
        expect(decoded.keys.map((k) => k.material.fingerprint)).toEqual(s.keys.map((k) => k.material.fingerprint));
        expect(decoded.keys.every((k) => !k.material.destroyed)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps key material out of the decoded state when printed', () => {
    const s = decodeSecret(encodeSecret(richState()));
    const text = JSON.stringify(s);
    for (const k of s.keys) expect(text).not.toContain(k.material.copyBytes().toString('base64'));
    expect(KeyMaterial.fromBytes(s.keys[0]!.material.copyBytes()).fingerprint).toBe(s.keys[0]!.material.fingerprint);
  });
});

/**
 * A Secret as the released version (format version 1, up to issue 13) wrote it, spelled out
 * field by field rather than through encodeSecret: ring.json with the handled tokens,
 * ticket.key, the generation/phase/ring-fingerprint annotations, and the handled tokens again
 * as annotations (ticketkeys.dev/rotate-now-handled, ticketkeys.dev/revoke-handled), next to
 * an annotation of somebody else.
 */
function releasedLayout(s: RotationState, handledAnnotations: Record<string, string>): { data: Record<string, string>; annotations: Record<string, string> } {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const doc = {
    version: 1,
    generation: s.generation,
    phase: s.phase,
    keys: s.keys.map((k) => ({
      fingerprint: k.material.fingerprint,
      state: k.state,
      material: k.material.copyBytes().toString('base64'),
      createdAt: iso(k.createdAt),
      promotedAt: iso(k.promotedAt),
      retiredAt: iso(k.retiredAt),
      expiresAt: iso(k.expiresAt),
    })),
    lastRotationTime: iso(s.lastRotationTime),
    nextRotationTime: iso(s.nextRotationTime),
    stagedAt: iso(s.stagedAt),
    phaseTimedOutAt: iso(s.phaseTimedOutAt),
    nextPushRetryAt: iso(s.nextPushRetryAt),
    regeneratedAt: iso(s.regeneratedAt),
    handledRotateNowToken: s.handledRotateNowToken,
    handledRevokeToken: s.handledRevokeToken,
    regeneratedBecause: s.regeneratedBecause,
    pushAttempts: s.pushAttempts,
  };
  const ring = encodeRing(ringMaterial(s));
  return {
    data: { 'ring.json': Buffer.from(JSON.stringify(doc)).toString('base64'), 'ticket.key': ring.toString('base64') },
    annotations: {
      'ticketkeys.dev/generation': String(s.generation),
      'ticketkeys.dev/phase': s.phase,
      'ticketkeys.dev/ring-fingerprint': ringFingerprint(ring),
      ...handledAnnotations,
      'kept.example/note': 'a user annotation',
    },
  };
}

describe('the handled rotate-now and revoke tokens', () => {
  it('live in ring.json only: encodeSecret writes no annotation for them', () => {
    const s = richState();
    const p = encodeSecret(s);
    expect(readDoc(p)).toMatchObject({ handledRotateNowToken: 'r1', handledRevokeToken: 'v1' });
    expect(Object.keys(p.annotations).sort()).toEqual([GENERATION_ANNOTATION, PHASE_ANNOTATION, RING_FINGERPRINT_ANNOTATION].sort());
    for (const name of RETIRED_ANNOTATIONS) expect(p.annotations).not.toHaveProperty(name);
    expect(Object.values(p.annotations)).not.toContain('r1');
    expect(Object.values(p.annotations)).not.toContain('v1');
  });

  it('a Secret in the released layout (tokens in ring.json and as annotations) still loads, to the same state', () => {
    const s = richState();
    const old = releasedLayout(s, { 'ticketkeys.dev/rotate-now-handled': 'r1', 'ticketkeys.dev/revoke-handled': 'v1' });
    const back = decodeSecret(old);
    expect(back).toEqual(s);
    expect(back.handledRotateNowToken).toBe('r1');
    expect(back.handledRevokeToken).toBe('v1');
    back.keys.forEach((k, i) => expect(k.material.equals(s.keys[i]!.material)).toBe(true));
    // Written again, it has the current layout: the same data, the retired annotations gone.
    const again = encodeSecret(back);
    expect(decodeSecret(again)).toEqual(s);
    expect(secretAnnotations(old.annotations, again)).toEqual({ ...again.annotations, 'kept.example/note': 'a user annotation' });
  });

  it('are read from ring.json: the retired annotations are ignored, whatever they say', () => {
    const s = richState();
    expect(decodeSecret(releasedLayout(s, { 'ticketkeys.dev/rotate-now-handled': 'other', 'ticketkeys.dev/revoke-handled': 'other' }))).toMatchObject({
      handledRotateNowToken: 'r1',
      handledRevokeToken: 'v1',
    });
    const untouched = { ...s, handledRotateNowToken: undefined, handledRevokeToken: undefined };
    const back = decodeSecret(releasedLayout(untouched, { 'ticketkeys.dev/rotate-now-handled': 'r1', 'ticketkeys.dev/revoke-handled': 'v1' }));
    expect(back.handledRotateNowToken).toBeUndefined();
    expect(back.handledRevokeToken).toBeUndefined();
  });

  it('the retired annotation names are the ones the released version wrote', () => {
    expect([...RETIRED_ANNOTATIONS].sort()).toEqual(['ticketkeys.dev/revoke-handled', 'ticketkeys.dev/rotate-now-handled']);
  });
});

describe('secretAnnotations', () => {
  it("replaces this format's annotations, drops the retired ones and keeps everybody else's", () => {
    const p = encodeSecret(richState());
    const existing = {
      [GENERATION_ANNOTATION]: '1',
      [PHASE_ANNOTATION]: 'Stable',
      [RING_FINGERPRINT_ANNOTATION]: '0'.repeat(64),
      'ticketkeys.dev/rotate-now-handled': 'r0',
      'ticketkeys.dev/revoke-handled': 'v0',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    };
    expect(secretAnnotations(existing, p)).toEqual({ ...p.annotations, 'kubectl.kubernetes.io/last-applied-configuration': '{}' });
    expect(existing['ticketkeys.dev/revoke-handled']).toBe('v0'); // the input is not changed
    expect(secretAnnotations({}, p)).toEqual(p.annotations);
  });
});
