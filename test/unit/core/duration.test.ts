import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DurationError, formatDuration, parseDuration, parseDurationNs } from '../../../src/core/duration.ts';

describe('parseDuration (Go time.ParseDuration syntax)', () => {
  it.each([
    ['0', 0],
    ['-0', 0],
    ['+0', 0],
    ['0s', 0],
    ['10s', 10_000],
    ['12h', 43_200_000],
    ['168h', 604_800_000],
    ['1h30m', 5_400_000],
    ['1h30m15s', 5_415_000],
    ['90m', 5_400_000],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['1.s', 1000],
    ['300ms', 300],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['-1m', -60_000],
    ['+2s', 2000],
    ['1m0.5s', 60_500],
    ['5m0s', 300_000],
    ['12h0m0s', 43_200_000],
  ])('parses %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', /expected a number followed by a unit/],
    ['-', /expected a number followed by a unit/],
    ['10', /missing unit/],
    ['1.5', /missing unit/],
    ['h', /expected a number/],
    ['.s', /expected a number before the unit/],
    ['1x', /unknown unit "x"/],
    ['1d', /unknown unit "d"/],
    ['1 h', /unknown unit " h"/],
    ['1hh', /unknown unit "hh"/],
    ['1h-1m', /unknown unit/],
    ['1h10', /missing unit/],
    ['3000000h', /out of range/],
  ])('rejects %j', (text, why) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
    expect(() => parseDuration(text)).toThrow(why);
  });

  it('names the input in the error', () => {
    expect(() => parseDuration('7days')).toThrow('invalid duration "7days"');
  });

  it('keeps nanosecond precision in parseDurationNs', () => {
    expect(parseDurationNs('1h0.000000001s')).toBe(3_600_000_000_001n);
    expect(parseDurationNs('2562047h47m16.854775807s')).toBe((1n << 63n) - 1n);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [10_000, '10s'],
    [43_200_000, '12h'],
    [5_400_000, '1h30m'],
    [604_800_000, '168h'],
    [3_600_000 + 5_000, '1h5s'],
    [1_500, '1s500ms'],
    [1.5, '1ms500us'],
    [-60_000, '-1m'],
  ])('formats %d ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('rejects non-finite values', () => {
    expect(() => formatDuration(Number.POSITIVE_INFINITY)).toThrow(DurationError);
    expect(() => formatDuration(Number.NaN)).toThrow(DurationError);
  });

  it('round-trips every integer millisecond value through parseDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: -9_000_000_000_000, max: 9_000_000_000_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
      { numRuns: 500 },
    );
  });
});
