import { describe, expect, it } from '@jest/globals';
import { DurationError } from '../../../src/core/duration.ts';
import {
  MAX_TICKET_LIFETIME_MS,
  MIN_INTERVAL_MS,
  PolicyError,
  policyProblems,
  policyWarnings,
  resolvePolicy,
  retiredKeysNeeded,
} from '../../../src/core/policy.ts';
import { HOUR, MIN, SEC, policy } from './support.ts';

describe('resolvePolicy', () => {
  it('applies the API defaults: 12h interval, lifetime = interval, AllPodsAcknowledged, 5m timeout, flush on revoke', () => {
    expect(resolvePolicy({})).toEqual({
      intervalMs: 12 * HOUR,
      ticketLifetimeMs: 12 * HOUR,
      promotionPolicy: 'AllPodsAcknowledged',
      promotionTimeoutMs: 5 * MIN,
      suspend: false,
      flushOnRevoke: true,
      fileRingHoldMs: 0,
      rotateNowToken: undefined,
      revokeToken: undefined,
    });
  });

  it('defaults ticketLifetime to the interval given', () => {
    expect(resolvePolicy({ interval: '1h30m' }).ticketLifetimeMs).toBe(90 * MIN);
  });

  it('maps every field and passes the annotation tokens through', () => {
    expect(
      resolvePolicy({
        interval: '10s',
        ticketLifetime: '168h',
        promotionPolicy: 'Immediate',
        promotionTimeout: '5s',
        suspend: true,
        flushOnRevoke: false,
        rotateNowToken: 'a',
        revokeToken: 'b',
      }),
    ).toEqual({
      intervalMs: 10 * SEC,
      ticketLifetimeMs: 168 * HOUR,
      promotionPolicy: 'Immediate',
      promotionTimeoutMs: 5 * SEC,
      suspend: true,
      flushOnRevoke: false,
      fileRingHoldMs: 0,
      rotateNowToken: 'a',
      revokeToken: 'b',
    });
  });

  it('rejects what the CRD rejects, with the same messages', () => {
    const problems = (input: Parameters<typeof resolvePolicy>[0]): readonly string[] => {
      try {
        resolvePolicy(input);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(PolicyError);
        return (err as PolicyError).problems;
      }
    };
    expect(problems({ interval: '9s', promotionTimeout: '1s' })).toEqual(['rotation.interval must be at least 10s']);
    expect(problems({ ticketLifetime: '169h' })).toEqual(['ticketLifetime must be at most 168h (7 days, RFC 8446)']);
    expect(problems({ interval: '1m', promotionTimeout: '1m' })).toEqual(['promotion.timeout must be shorter than rotation.interval']);
    expect(problems({ ticketLifetime: '0s' })).toEqual(['ticketLifetime must be positive']);
    expect(problems({ promotionTimeout: '-1s' })).toEqual(['promotion.timeout must be positive']);
    expect(problems({ promotionPolicy: 'Eventually' as never })).toEqual(['promotion.policy must be AllPodsAcknowledged or Immediate']);
    expect(() => resolvePolicy({ interval: '12 hours' })).toThrow(DurationError);
    expect(() => resolvePolicy({ interval: '5s' })).toThrow('invalid rotation policy: rotation.interval must be at least 10s');
  });

  it('exposes the bounds as milliseconds', () => {
    expect(MIN_INTERVAL_MS).toBe(10 * SEC);
    expect(MAX_TICKET_LIFETIME_MS).toBe(7 * 24 * HOUR);
  });
});

describe('policy warnings', () => {
  it('counts the retired keys a schedule needs', () => {
    expect(retiredKeysNeeded(policy())).toBe(2); // (12h + 5m) / 12h
    expect(retiredKeysNeeded(policy({ intervalMs: HOUR, ticketLifetimeMs: 168 * HOUR }))).toBe(169);
  });

  it('warns when the ring bound will defer rotations, and not otherwise', () => {
    expect(policyWarnings(policy())).toEqual([]);
    const [w] = policyWarnings(policy({ intervalMs: HOUR, ticketLifetimeMs: 168 * HOUR }));
    expect(w).toContain('spans more than 14 intervals of 1h');
    expect(w).toContain('168h5m');
    expect(policyProblems(policy({ intervalMs: HOUR, ticketLifetimeMs: 168 * HOUR }))).toEqual([]);
  });
});
