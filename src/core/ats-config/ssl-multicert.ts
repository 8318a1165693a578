// ssl_multicert.config: one certificate context per line, as `label=value` pairs. Read the way
// ATS reads it (SSLMultiCertConfigLoader::load and parseConfigLine in src/tscore/
// MatcherUtils.cc, 9.2.x): lines split on newlines, leading whitespace skipped, a line starting
// with `#` is a comment (a `#` later in the line is part of a value), a label runs to the `=`, a
// value runs to the next whitespace or is double-quoted (backslash escapes the next character),
// at most 40 pairs, non-ASCII in an unquoted value discards the line. Labels match without case;
// a repeated label keeps its last value.
import { LineProblems, type LineProblem } from './problems.ts';
import { configText } from './source-text.ts';

const MAX_PAIRS = 40;

export interface MulticertLine {
  readonly line: number;
  /** Labels lower-cased, in order of appearance. */
  readonly pairs: readonly (readonly [label: string, value: string])[];
  /** The last `dest_ip=` value, if any ("*" is the default context). */
  readonly destIp?: string;
  /** `ssl_ticket_enabled=` read as ATS reads it (atoi): 0 disables tickets for this context. */
  readonly ticketEnabled?: number;
  readonly ticketNumber?: number;
  /** `action=tunnel`: ATS does not terminate TLS for this context. */
  readonly tunnel: boolean;
}

export interface SslMulticertFile {
  readonly file: string;
  readonly lines: readonly MulticertLine[];
  readonly problems: readonly LineProblem[];
  readonly moreProblems: number;
}

/** C's atoi: leading whitespace, optional sign, digits; 0 when none. */
function atoi(value: string): number {
  const m = /^\s*([+-]?\d+)/.exec(value);
  return m?.[1] === undefined ? 0 : Number.parseInt(m[1], 10);
}

type Parsed = { pairs: [string, string][] } | { error: string };

/** parseConfigLine's state machine over one line with leading whitespace removed. */
function parsePairs(line: string): Parsed {
  const pairs: [string, string][] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i] ?? '')) i++;
    if (i >= n) break;
    const eq = line.indexOf('=', i);
    if (eq < 0) return { error: `"${line.slice(i, i + 40)}" has no "=value"` };
    const label = line.slice(i, eq);
    i = eq + 1;
    let value = '';
    if (line[i] === '"') {
      i++;
      while (i < n && line[i] !== '"') {
        if (line[i] === '\\') i++;
        if (i < n) value += line[i];
        i++;
      }
      i++; // the closing quote (ATS also accepts a value left open at the end of the line)
    } else {
      if (line[i] === '\\') i++;
      const start = i;
      while (i < n && !/\s/.test(line[i] ?? '')) {
        const c = line.charCodeAt(i);
        if (c > 127 || (c === 92 && /\d/.test(line[i + 1] ?? ''))) return { error: `non-ASCII or escaped character in the value of ${label.slice(0, 40)}` };
        i++;
      }
      value = line.slice(start, i);
    }
    pairs.push([label.toLowerCase(), value]);
    if (pairs.length > MAX_PAIRS) return { error: `more than ${MAX_PAIRS} label=value pairs` };
  }
  return { pairs };
}

export function parseSslMulticert(content: string | Uint8Array, file = 'ssl_multicert.config'): SslMulticertFile {
  const text = configText(file, content);
  const lines: MulticertLine[] = [];
  const problems = new LineProblems();
  // ATS splits on \n only; a \r left at the end of a line is whitespace to it.
  const raw = text.split('\n');
  for (let idx = 0; idx < raw.length; idx++) {
    const lineNo = idx + 1;
    const line = (raw[idx] ?? '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const parsed = parsePairs(line);
    if ('error' in parsed) {
      problems.add(lineNo, `${parsed.error}; ATS discards this line`);
      continue;
    }
    const last = (label: string) => parsed.pairs.filter(([l]) => l === label).at(-1)?.[1];
    for (const [label] of parsed.pairs) {
      if (/\s/.test(label)) problems.add(lineNo, `the label "${label.slice(0, 40)}" contains whitespace; ATS ignores it (write label=value without spaces)`);
    }
    const destIp = last('dest_ip');
    const ticketEnabled = last('ssl_ticket_enabled');
    const ticketNumber = last('ssl_ticket_number');
    lines.push({
      line: lineNo,
      pairs: parsed.pairs,
      ...(destIp === undefined ? {} : { destIp }),
      ...(ticketEnabled === undefined ? {} : { ticketEnabled: atoi(ticketEnabled) }),
      ...(ticketNumber === undefined ? {} : { ticketNumber: atoi(ticketNumber) }),
      tunnel: last('action')?.toLowerCase() === 'tunnel',
    });
  }
  return { file, lines, problems: problems.kept, moreProblems: problems.dropped };
}
