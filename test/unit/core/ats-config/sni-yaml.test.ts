import { describe, expect, it } from '@jest/globals';
import { ConfigUnparseable } from '../../../../src/core/ats-config/problems.ts';
import { parseSniYaml } from '../../../../src/core/ats-config/sni-yaml.ts';

describe('parseSniYaml', () => {
  it('reads entries with fqdn and options, and reports the ones that change tickets', () => {
    const sni = parseSniYaml(`sni:
- fqdn: one.example.com
  verify_client: STRICT
  verify_client_ca_certs:
    file: ca.pem
- fqdn: '*.two.example.com'
  ssl_ticket_enabled: 0
- fqdn: three.example.com
  ssl_ticket_number: 0
  tunnel_route: backend:443
`);
    expect(sni.problems).toEqual([]);
    expect(sni.entries.map((e) => [e.line, e.fqdn])).toEqual([
      [2, 'one.example.com'],
      [6, '*.two.example.com'],
      [8, 'three.example.com'],
    ]);
    expect(sni.entries[0]?.options.get('verify_client')).toBe('STRICT');
    expect(sni.entries[0]?.options.get('verify_client_ca_certs')).toBeNull();
    expect(sni.ticketOptions).toEqual([
      { line: 6, fqdn: '*.two.example.com', key: 'ssl_ticket_enabled', value: '0' },
      { line: 8, fqdn: 'three.example.com', key: 'ssl_ticket_number', value: '0' },
    ]);
  });

  it('accepts an empty file and an empty list', () => {
    expect(parseSniYaml('# nothing\n').entries).toEqual([]);
    expect(parseSniYaml('sni: []\n').entries).toEqual([]);
  });

  it('reports items that are not mappings and extra documents as line problems', () => {
    const sni = parseSniYaml('sni:\n- just a string\n- fqdn: a\n---\nsni: []\n');
    expect(sni.problems.map((p) => p.line).sort()).toEqual([2, 5]);
    expect(sni.entries).toHaveLength(1);
  });

  it.each<[string, string, number]>([
    ['no sni key', 'other: []\n', 1],
    ['sni not a list', 'sni:\n  fqdn: a\n', 2],
    // An unclosed quote is noticed where the text ends.
    ['a syntax error', 'sni:\n- fqdn: "a\n', 3],
  ])('refuses %s with file and line', (_what, text, line) => {
    let err: unknown;
    try {
      parseSniYaml(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigUnparseable);
    expect((err as ConfigUnparseable).file).toBe('sni.yaml');
    expect((err as ConfigUnparseable).line).toBe(line);
  });

  it('handles a long list within bounds', () => {
    const text = `sni:\n${Array.from({ length: 20_000 }, (_, i) => `- fqdn: h${i}.example.com`).join('\n')}\n`;
    expect(parseSniYaml(text).entries).toHaveLength(20_000);
  });
});
