import { describe, expect, it } from '@jest/globals';
import { MAX_LINE_PROBLEMS } from '../../../../src/core/ats-config/problems.ts';
import { parseRecordsConfig } from '../../../../src/core/ats-config/records-config.ts';
import { atsInt, isUnsetString } from '../../../../src/core/ats-config/records.ts';
import { ConfigUnparseable } from '../../../../src/core/ats-config/problems.ts';

describe('parseRecordsConfig (ATS 9 records.config)', () => {
  it('reads CONFIG and LOCAL lines, comments, blanks, tabs and STRING values with spaces', () => {
    const rf = parseRecordsConfig(
      [
        '# a comment',
        '',
        'CONFIG proxy.config.ssl.server.session_ticket.enable INT 0',
        '   LOCAL\tproxy.local.incoming_ip_to_bind STRING 127.0.0.1 ::1  ',
        'CONFIG proxy.config.admin.user_id STRING #-1',
        'CONFIG proxy.config.ssl.session_cache.timeout INT 3600',
        'CONFIG proxy.config.ssl.session_cache.timeout INT 7200',
        '\t# indented comment',
      ].join('\n'),
    );
    expect(rf.problems).toEqual([]);
    expect(rf.records.get('proxy.config.ssl.server.session_ticket.enable')).toEqual({ name: 'proxy.config.ssl.server.session_ticket.enable', value: '0', type: 'INT', line: 3 });
    expect(rf.records.get('proxy.local.incoming_ip_to_bind')?.value).toBe('127.0.0.1 ::1');
    // A value starting with # is a value, not a comment (ATS only skips lines that start with #).
    expect(rf.records.get('proxy.config.admin.user_id')?.value).toBe('#-1');
    // The last setting wins, as ATS applies lines in order.
    expect(rf.records.get('proxy.config.ssl.session_cache.timeout')).toMatchObject({ value: '7200', line: 7 });
  });

  it('keeps lines ATS would skip as problems with their numbers, and reads the rest', () => {
    const rf = parseRecordsConfig(['CONFIG a INT', 'GLOBAL b INT 1', 'CONFIG c BOOL 1', 'CONFIG d INT 1', 'garbage'].join('\n'), 'records.config');
    expect(rf.problems.map((p) => p.line)).toEqual([1, 2, 3, 5]);
    expect(rf.problems[1]?.message).toContain('unknown record scope "GLOBAL"');
    expect(rf.problems[2]?.message).toContain('unknown record type "BOOL"');
    expect([...rf.records.keys()]).toEqual(['d']);
  });

  it('bounds what it keeps for a file of garbage, in linear time', () => {
    const garbage = 'x\n'.repeat(500_000);
    const rf = parseRecordsConfig(garbage);
    expect(rf.problems).toHaveLength(MAX_LINE_PROBLEMS);
    expect(rf.moreProblems).toBe(500_000 - MAX_LINE_PROBLEMS);
    expect(rf.records.size).toBe(0);
  });

  it('handles a file of a million empty lines', () => {
    const rf = parseRecordsConfig('\n'.repeat(1024 * 1024 - 1));
    expect(rf.problems).toEqual([]);
  });

  it('refuses binary content and files over 1 MiB with the file name', () => {
    expect(() => parseRecordsConfig(Buffer.from([0x43, 0x00, 0x01]))).toThrow(ConfigUnparseable);
    expect(() => parseRecordsConfig('#'.repeat(1024 * 1024 + 1))).toThrow('records.config: the file is 1048577 bytes');
  });
});

describe('atsInt (ink_atoi64)', () => {
  it.each<[string | null, number | undefined]>([
    ['0', 0],
    ['  42', 42],
    ['-3', -3],
    ['0x1F', 31],
    ['2K', 2048],
    ['1M', 1048576],
    ['7 # trailing words are ignored', 7],
    ['abc', undefined],
    [null, undefined],
  ])('%p → %p', (value, expected) => {
    expect(atsInt(value)).toBe(expected);
  });

  it('treats NULL, empty and null as an unset STRING', () => {
    expect([null, '', '  ', 'NULL'].every(isUnsetString)).toBe(true);
    expect(isUnsetString('null')).toBe(false);
  });
});
