// Go-style durations ("10s", "12h", "1h30m", "168h", "1.5h", "300ms"), as Kubernetes users
// write them in specs (metav1.Duration is Go's time.ParseDuration). The operator and the CRD
// validation messages share these functions so both accept exactly the same strings.

export class DurationError extends Error {
  override name = 'DurationError';
}

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NS = (1n << 63n) - 1n; // Go's time.Duration is an int64 of nanoseconds
const SEGMENT = /(\d*)(?:\.(\d*))?([^\d.]+)/y;

/** Parses a Go duration into nanoseconds, exactly as Go's time.ParseDuration accepts it. */
export function parseDurationNs(text: string): bigint {
  const fail = (why: string): never => {
    throw new DurationError(`invalid duration ${JSON.stringify(text)}: ${why}`);
  };
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') fail('expected a number followed by a unit, e.g. "12h" or "1h30m"');
  let total = 0n;
  let pos = 0;
  while (pos < s.length) {
    SEGMENT.lastIndex = pos;
    const m = SEGMENT.exec(s);
    if (m === null || m.index !== pos) {
      const rest = s.slice(pos);
      if (/^[\d.]+$/.test(rest)) fail('missing unit (one of ns, us, ms, s, m, h)');
      fail('expected a number followed by a unit, e.g. "12h" or "1h30m"');
    }
    const [whole, intPart = '', fracPart, unit = ''] = m!;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) fail('expected a number before the unit');
    const perUnit = NS_PER_UNIT[unit];
    if (perUnit === undefined) fail(`unknown unit ${JSON.stringify(unit)} (use ns, us, ms, s, m or h)`);
    let value = BigInt(intPart === '' ? '0' : intPart) * perUnit!;
    if (fracPart !== undefined && fracPart !== '') {
      value += (BigInt(fracPart) * perUnit!) / 10n ** BigInt(fracPart.length);
    }
    total += value;
    if (total > MAX_NS) fail('out of range (at most about 2562047h)');
    pos += whole!.length;
  }
  return negative ? -total : total;
}

/** Parses a Go duration into milliseconds (fractional below 1 ms). */
export function parseDuration(text: string): number {
  const ns = parseDurationNs(text);
  // Whole milliseconds exactly, then the sub-millisecond rest (a plain ns / 1e6 rounds large values).
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

const UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['h', 3_600_000_000_000n],
  ['m', 60_000_000_000n],
  ['s', 1_000_000_000n],
  ['ms', 1_000_000n],
  ['us', 1_000n],
  ['ns', 1n],
];

/**
 * Formats milliseconds compactly in Go syntax, omitting zero units: 12h, 1h30m, 168h, 1m0.5s
 * is written 1m500ms. Go's parser (and parseDuration) read every output back to the same value.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new DurationError(`cannot format ${ms} as a duration`);
  const negative = ms < 0;
  const abs = Math.abs(ms);
  const whole = Math.trunc(abs);
  let ns = BigInt(whole) * 1_000_000n + BigInt(Math.round((abs - whole) * 1e6));
  if (ns === 0n) return '0s';
  let out = '';
  for (const [unit, per] of UNITS) {
    const n = ns / per;
    if (n > 0n) out += `${n}${unit}`;
    ns -= n * per;
  }
  return negative ? `-${out}` : out;
}
