import { describe, expect, it } from '@jest/globals';
import { ConfigUnparseable } from '../../../../src/core/ats-config/problems.ts';
import { parseRecordsYaml } from '../../../../src/core/ats-config/records-yaml.ts';

const good = `# ATS 10
records:
  ssl:
    server:
      session_ticket:
        enable: 0
        number: !!int '1'
      ticket_key.filename: ticket.key
    session_cache:
      timeout: 2K
  diags.debug.enabled: 1
  proxy_name: my server
  empty:
  nulled: ~
`;

function refusal(fn: () => unknown): ConfigUnparseable {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigUnparseable) return err;
    throw err;
  }
  throw new Error('expected ConfigUnparseable');
}

describe('parseRecordsYaml (ATS 10 records.yaml)', () => {
  it('flattens nested and dotted keys under proxy.config, keeping lines and values as text', () => {
    const rf = parseRecordsYaml(good);
    expect(rf.problems).toEqual([]);
    expect(rf.records.get('proxy.config.ssl.server.session_ticket.enable')).toEqual({ name: 'proxy.config.ssl.server.session_ticket.enable', value: '0', line: 6 });
    expect(rf.records.get('proxy.config.ssl.server.session_ticket.number')).toMatchObject({ value: '1', type: 'INT', line: 7 });
    expect(rf.records.get('proxy.config.ssl.server.ticket_key.filename')?.value).toBe('ticket.key');
    expect(rf.records.get('proxy.config.ssl.session_cache.timeout')?.value).toBe('2K');
    expect(rf.records.get('proxy.config.diags.debug.enabled')?.value).toBe('1');
    expect(rf.records.get('proxy.config.proxy_name')?.value).toBe('my server');
    expect(rf.records.get('proxy.config.empty')?.value).toBeNull();
    expect(rf.records.get('proxy.config.nulled')?.value).toBeNull();
  });

  it('lets later documents override earlier ones', () => {
    const rf = parseRecordsYaml('records:\n  a: 1\n---\nrecords:\n  a: 2\n');
    expect(rf.records.get('proxy.config.a')).toMatchObject({ value: '2', line: 5 });
  });

  it('follows aliases', () => {
    const rf = parseRecordsYaml('defaults: &d\n  enable: 0\nrecords:\n  ssl:\n    server:\n      session_ticket: *d\n');
    expect(rf.records.get('proxy.config.ssl.server.session_ticket.enable')?.value).toBe('0');
  });

  it('reads a pre-release `ts:` root with a problem saying released ATS ignores it', () => {
    const rf = parseRecordsYaml('ts:\n  ssl:\n    server:\n      session_ticket:\n        enable: 0\n');
    expect(rf.records.get('proxy.config.ssl.server.session_ticket.enable')?.value).toBe('0');
    expect(rf.problems).toEqual([{ line: 1, message: expect.stringContaining('ATS 10.0 and later read only `records:`') }]);
  });

  it('reports a list value as a line problem', () => {
    const rf = parseRecordsYaml('records:\n  a:\n    - 1\n');
    expect(rf.problems[0]?.line).toBe(3);
  });

  it.each<[string, string, number | undefined, string]>([
    // An unclosed bracket is noticed where the text ends.
    ['a YAML syntax error', 'records:\n  a: [1,\n', 3, 'YAML syntax error'],
    ['a duplicate-free but broken mapping', 'records:\n  a: b: c\n', 2, 'YAML syntax error'],
    ['flow nesting deeper than the bound', `records:\n  a: ${'['.repeat(100)}\n`, 2, 'nested deeper'],
    ['block indentation beyond the bound', `records:\n${' '.repeat(600)}a: 1\n`, 2, 'indented more than'],
    ['nested list markers beyond the bound', `records:\n  a:\n    ${'- '.repeat(100)}x\n`, 3, 'nested list markers'],
    ['a top level that is not a mapping', '- a\n- b\n', 1, 'expected a mapping'],
    ['no records root', 'other:\n  a: 1\n', 1, 'no `records:` mapping'],
    ['a records root that is not a mapping', 'records: 3\n', 1, 'must be a mapping'],
    ['binary content', 'records:\n  a: "\u0001"\n', 2, 'binary content'],
  ])('refuses %s with file and line', (_what, text, line, detail) => {
    const e = refusal(() => parseRecordsYaml(text));
    expect(e.file).toBe('records.yaml');
    expect(e.line).toBe(line);
    expect(e.detail).toContain(detail);
  });

  it('bounds the work of an alias bomb', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} {${Array.from({ length: 10 }, (_, j) => `k${j}: *a${i - 1}`).join(', ')}}`);
    lines.push('records: *a11');
    const e = refusal(() => parseRecordsYaml(lines.join('\n')));
    expect(e.detail).toMatch(/more than \d+ YAML nodes|nested deeper/);
  });

  it('survives 1 MiB of garbage with a clear error', () => {
    const garbage = Array.from({ length: 60_000 }, (_, i) => `{[}"'${i}:::`).join('\n').slice(0, 1024 * 1024);
    const e = refusal(() => parseRecordsYaml(garbage));
    expect(e.file).toBe('records.yaml');
    expect(e.line).toBeGreaterThanOrEqual(1);
  });
});
