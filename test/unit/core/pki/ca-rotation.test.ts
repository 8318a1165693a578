// The agent PKI's decisions with fixed clocks: a CA is trusted before it signs, signs only after
// the propagation delay, the old one stays trusted until it expires, and certificates are issued
// again when the signer changed, at two thirds of their life, or when they name someone else.
import { describe, expect, it } from '@jest/globals';
import { caChanges, reissueReason, renewAt, type PkiPolicy, type PkiState } from '../../../../src/core/pki/ca-rotation.ts';

const H = 3_600_000;
const policy: PkiPolicy = { caValidityMs: 300 * H, certValidityMs: 30 * H, propagationMs: 1 * H };
const ca = (id: string, notBefore: number, life = 300 * H) => ({ id, notBefore, notAfter: notBefore + life });

describe('caChanges', () => {
  it('makes a signer when there is none, or when the signer expired while nobody watched', () => {
    expect(caChanges(undefined, 0, policy)).toEqual([{ kind: 'new-signer' }]);
    const old = ca('a', 0);
    expect(caChanges({ signer: old, trusted: [old] }, 300 * H, policy)).toEqual([{ kind: 'new-signer' }]);
  });

  it('does nothing before two thirds of the signer life', () => {
    const a = ca('a', 0);
    expect(renewAt(a.notBefore, a.notAfter)).toBe(200 * H);
    expect(caChanges({ signer: a, trusted: [a] }, 200 * H - 1, policy)).toEqual([]);
  });

  it('adds a next CA at two thirds, promotes it only after the propagation delay, then drops the old one when it expires', () => {
    const a = ca('a', 0);
    expect(caChanges({ signer: a, trusted: [a] }, 200 * H, policy)).toEqual([{ kind: 'add-next' }]);
    const b = ca('b', 200 * H);
    const rotating: PkiState = { signer: a, next: { ...b, addedAt: 200 * H }, trusted: [a, b] };
    expect(caChanges(rotating, 200 * H + policy.propagationMs - 1, policy)).toEqual([]);
    expect(caChanges(rotating, 200 * H + policy.propagationMs, policy)).toEqual([{ kind: 'promote-next' }]);
    // After the promotion: b signs, a is still trusted (its certificates still work) until it expires.
    const promoted: PkiState = { signer: b, trusted: [a, b] };
    expect(caChanges(promoted, 299 * H, policy)).toEqual([]);
    expect(caChanges(promoted, 300 * H, policy)).toEqual([{ kind: 'drop-expired', ids: ['a'] }]);
  });

  it('never adds a second next CA while one propagates', () => {
    const a = ca('a', 0);
    const b = ca('b', 250 * H);
    expect(caChanges({ signer: a, next: { ...b, addedAt: 250 * H }, trusted: [a, b] }, 250 * H + 1, policy)).toEqual([]);
  });
});

describe('reissueReason', () => {
  const id = 'spiffe://ticketkeys.dev/ns/web/sa/ats';
  const cert = { notBefore: 0, notAfter: 30 * H, issuerId: 'a', uris: [id] };
  it.each([
    ['no certificate', undefined, 1, 'Missing'],
    ['an expired one', cert, 30 * H, 'Expired'],
    ['one naming another workload', { ...cert, uris: ['spiffe://ticketkeys.dev/ns/web/sa/other'] }, 1, 'WrongIdentity'],
    ['one with two identities', { ...cert, uris: [id, 'spiffe://ticketkeys.dev/operator'] }, 1, 'WrongIdentity'],
    ['one from another CA', { ...cert, issuerId: 'old' }, 1, 'OtherIssuer'],
    ['one at two thirds of its life', cert, 20 * H, 'Renewal'],
  ])('re-issues %s', (_what, c, now, reason) => {
    expect(reissueReason(c, 'a', id, now)).toBe(reason);
  });

  it('keeps a current certificate', () => {
    expect(reissueReason(cert, 'a', id, 20 * H - 1)).toBeUndefined();
  });
});
