// The CRD accepts a subset of Go durations (h, m, s, ms); every string it accepts must parse
// in src/core/duration.ts to the value the API server's CEL duration() gives it.
import { describe, expect, it } from '@jest/globals';
import { DURATION_PATTERN, MAX_TICKET_LIFETIME, MIN_ROTATION_INTERVAL } from '../../../src/api/index.ts';
import { parseDurationNs } from '../../../src/core/duration.ts';

const pattern = new RegExp(DURATION_PATTERN);
const SECOND = 1_000_000_000n;

describe('duration grammar of the CRD', () => {
  it.each([
    ['12h', 12n * 3600n * SECOND],
    ['1h30m', 5400n * SECOND],
    ['1.5h', 5400n * SECOND],
    ['90s', 90n * SECOND],
    ['500ms', SECOND / 2n],
    ['168h', 168n * 3600n * SECOND],
  ])('accepts %s, which the operator parses to the same value', (text, ns) => {
    expect(pattern.test(text)).toBe(true);
    expect(parseDurationNs(text)).toBe(ns);
  });

  it.each(['', '12', '12 hours', '-5m', '1d', '1w', 'h', '.5h', '1.h', '5us', '10ns'])('rejects %p', (text) => {
    expect(pattern.test(text)).toBe(false);
  });

  it('keeps its bounds parseable by the operator', () => {
    expect(parseDurationNs(MIN_ROTATION_INTERVAL)).toBe(10n * SECOND);
    expect(parseDurationNs(MAX_TICKET_LIFETIME)).toBe(7n * 24n * 3600n * SECOND);
  });
});
