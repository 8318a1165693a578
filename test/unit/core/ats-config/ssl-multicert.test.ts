import { describe, expect, it } from '@jest/globals';
import { MAX_LINE_PROBLEMS } from '../../../../src/core/ats-config/problems.ts';
import { parseSslMulticert } from '../../../../src/core/ats-config/ssl-multicert.ts';

describe('parseSslMulticert', () => {
  it('reads label=value pairs, quoted values, comments and dest_ip with line numbers', () => {
    const mc = parseSslMulticert(
      [
        '# comment',
        'dest_ip=* ssl_cert_name=default.pem',
        '',
        '  DEST_IP=10.0.0.1 ssl_cert_name=a.pem ssl_key_dialog="exec:/usr/bin/pass \\"x\\" y"\r',
        'dest_ip=[::1]:443 ssl_cert_name=b.pem ssl_ticket_enabled=0',
        'ssl_cert_name=c.pem ssl_ticket_enabled=yes ssl_ticket_number=4 action=TUNNEL',
        'ssl_cert_name=d.pem#not-a-comment',
      ].join('\n'),
    );
    expect(mc.problems).toEqual([]);
    expect(mc.lines.map((l) => [l.line, l.destIp])).toEqual([
      [2, '*'],
      [4, '10.0.0.1'],
      [5, '[::1]:443'],
      [6, undefined],
      [7, undefined],
    ]);
    expect(mc.lines[1]?.pairs[2]).toEqual(['ssl_key_dialog', 'exec:/usr/bin/pass "x" y']);
    expect(mc.lines[2]?.ticketEnabled).toBe(0);
    // atoi("yes") is 0: ATS turns tickets off for it.
    expect(mc.lines[3]).toMatchObject({ ticketEnabled: 0, ticketNumber: 4, tunnel: true });
    expect(mc.lines[4]?.pairs).toEqual([['ssl_cert_name', 'd.pem#not-a-comment']]);
  });

  it('keeps lines ATS discards as problems', () => {
    const mc = parseSslMulticert(['dest_ip', 'ssl_cert_name=é.pem', `${'a=1 '.repeat(41)}`, 'dest_ip =1.2.3.4 ssl_cert_name=x.pem'].join('\n'));
    expect(mc.problems.map((p) => p.line)).toEqual([1, 2, 3, 4]);
    expect(mc.problems[0]?.message).toContain('has no "=value"');
    expect(mc.problems[2]?.message).toContain('more than 40');
    expect(mc.problems[3]?.message).toContain('contains whitespace');
  });

  it('bounds problems for 1 MiB of garbage and a huge number of lines', () => {
    const mc = parseSslMulticert('garbage\n'.repeat(100_000));
    expect(mc.problems).toHaveLength(MAX_LINE_PROBLEMS);
    expect(mc.moreProblems).toBe(100_000 - MAX_LINE_PROBLEMS);
    const long = parseSslMulticert(`ssl_cert_name="${'x'.repeat(1024 * 1024 - 20)}"`);
    expect(long.lines[0]?.pairs[0]?.[1]).toHaveLength(1024 * 1024 - 20);
  });

  it('refuses binary content naming the line', () => {
    expect(() => parseSslMulticert(Buffer.from('dest_ip=*\nssl_cert_name=\u0000x'))).toThrow('ssl_multicert.config line 2: binary content');
  });
});
