// records.config, the ATS 9 records file: one `SCOPE name TYPE value` per line, as ATS's
// RecConfigFileParse reads it (lib/records/RecConfigParse.cc, 9.2.x): leading whitespace
// skipped, `#` starts a comment line, fields separated by spaces or tabs, the value is the rest
// of the line with surrounding whitespace trimmed (a STRING value may contain spaces). A line
// ATS would skip (missing fields, unknown scope or type) is kept as a problem with its number.
import { LineProblems } from './problems.ts';
import type { AtsRecord, RecordsFile, RecordType } from './records.ts';
import { configLines, configText } from './source-text.ts';

const SCOPES = new Set(['CONFIG', 'LOCAL', 'PROCESS', 'NODE']);
const TYPES = new Set<string>(['INT', 'STRING', 'FLOAT', 'COUNTER']);
const FIELD = /[^ \t]+/y;
const BLANKS = /[ \t]*/y;

/** Reads the next space/tab separated field at `pos`, or undefined at the end of the line. */
function nextField(line: string, pos: number): { field: string; end: number } | undefined {
  BLANKS.lastIndex = pos;
  BLANKS.exec(line);
  FIELD.lastIndex = BLANKS.lastIndex;
  const m = FIELD.exec(line);
  return m ? { field: m[0], end: FIELD.lastIndex } : undefined;
}

export function parseRecordsConfig(content: string | Uint8Array, file = 'records.config'): RecordsFile {
  const text = configText(file, content);
  const records = new Map<string, AtsRecord>();
  const problems = new LineProblems();
  const lines = configLines(text);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = (lines[i] ?? '').replace(/^[ \t\v\f]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const scope = nextField(line, 0);
    const name = scope && nextField(line, scope.end);
    const type = name && nextField(line, name.end);
    const value = type ? line.slice(type.end).trim() : '';
    if (!scope || !name || !type || value === '') {
      problems.add(lineNo, 'expected `CONFIG name TYPE value`; ATS skips this line');
      continue;
    }
    if (!SCOPES.has(scope.field)) {
      problems.add(lineNo, `unknown record scope "${scope.field.slice(0, 40)}" (CONFIG or LOCAL); ATS skips this line`);
      continue;
    }
    if (!TYPES.has(type.field)) {
      problems.add(lineNo, `unknown record type "${type.field.slice(0, 40)}" (INT, STRING, FLOAT or COUNTER); ATS skips this line`);
      continue;
    }
    records.set(name.field, { name: name.field, value, type: type.field as RecordType, line: lineNo });
  }
  return { file, format: 'records.config', records, problems: problems.kept, moreProblems: problems.dropped };
}
