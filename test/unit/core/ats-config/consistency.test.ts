import { describe, expect, it } from '@jest/globals';
import { configFilesHash, configMapFiles } from '../../../../src/core/ats-config/config-hash.ts';
import { parseAtsConfigFiles } from '../../../../src/core/ats-config/config-map-files.ts';
import { analyzeConfigConsistency, CONFIG_REASONS_BY_SEVERITY, type ConsistencyInput } from '../../../../src/core/ats-config/consistency.ts';

const H = 3_600_000;
function analyze(data: Record<string, string>, opts: Partial<Omit<ConsistencyInput, 'configMap'>> = {}) {
  return analyzeConfigConsistency({
    configMapName: 'ats',
    configMap: { found: true, ...parseAtsConfigFiles(configMapFiles(data)) },
    ticketLifetimeMs: opts.ticketLifetimeMs ?? 12 * H,
    fileFallbackEnabled: opts.fileFallbackEnabled ?? false,
  });
}

describe('analyzeConfigConsistency', () => {
  it('is True when nothing reads keys from elsewhere', () => {
    const r = analyze({
      'records.config': 'CONFIG proxy.config.ssl.server.ticket_key.filename STRING NULL\nCONFIG proxy.config.ssl.session_cache.timeout INT 3600\n',
      'ssl_multicert.config': 'dest_ip=* ssl_cert_name=a.pem\n',
      'sni.yaml': 'sni:\n- fqdn: a.example.com\n',
      'remap.config': 'map / http://x/\n',
    });
    expect(r.findings).toEqual([]);
    expect(r.condition).toMatchObject({ type: 'ConfigConsistent', status: 'True', reason: 'Consistent' });
  });

  it('RelativeTicketKeyFile: names the file, line, record and path', () => {
    const r = analyze({ 'records.config': '\nCONFIG proxy.config.ssl.server.ticket_key.filename STRING ticket.key\n' });
    expect(r.condition).toMatchObject({ status: 'False', reason: 'RelativeTicketKeyFile' });
    expect(r.findings[0]).toMatchObject({ file: 'records.config', lines: [2] });
    expect(r.condition.message).toContain('records.config line 2: proxy.config.ssl.server.ticket_key.filename is the relative path "ticket.key"');
    expect(r.condition.message).toContain('replaces the pushed keys each time');
    // Still flagged with the file fallback: the relative path defeats ATS's freshness check.
    expect(analyze({ 'records.yaml': 'records:\n  ssl:\n    server:\n      ticket_key:\n        filename: t.key\n' }, { fileFallbackEnabled: true }).condition.reason).toBe('RelativeTicketKeyFile');
  });

  it('TicketKeyFileOverridesPushedKeys: an absolute file without spec.fileFallback, none with it', () => {
    const data = { 'records.config': 'CONFIG proxy.config.ssl.server.ticket_key.filename STRING /etc/keys/ticket.key\n' };
    const r = analyze(data);
    expect(r.condition).toMatchObject({ status: 'False', reason: 'TicketKeyFileOverridesPushedKeys' });
    expect(r.condition.message).toContain('enable spec.fileFallback');
    expect(analyze(data, { fileFallbackEnabled: true }).condition.reason).toBe('Consistent');
  });

  it('DestIpLinesUsePrivateKeys: names the lines and addresses, skipping *, tunnels and ticketless lines', () => {
    const r = analyze({
      'ssl_multicert.config': ['dest_ip=* ssl_cert_name=a.pem', 'dest_ip=10.0.0.1 ssl_cert_name=b.pem', 'dest_ip=10.0.0.2 action=tunnel', 'dest_ip=::1 ssl_cert_name=c.pem'].join('\n'),
    });
    expect(r.condition.reason).toBe('DestIpLinesUsePrivateKeys');
    expect(r.findings[0]?.lines).toEqual([2, 4]);
    expect(r.condition.message).toContain('ssl_multicert.config lines 2 (dest_ip=10.0.0.1), 4 (dest_ip=::1)');
  });

  it('SessionTicketsDisabled: from records, ssl_multicert lines and sni.yaml entries', () => {
    const r = analyze({
      'records.config': 'CONFIG proxy.config.ssl.server.session_ticket.enable INT 0\n',
      'ssl_multicert.config': 'dest_ip=* ssl_cert_name=a.pem ssl_ticket_enabled=0\n',
      'sni.yaml': 'sni:\n- fqdn: b.example.com\n  ssl_ticket_enabled: 0\n',
    });
    expect(r.condition).toMatchObject({ status: 'False', reason: 'SessionTicketsDisabled' });
    expect(r.findings.map((f) => f.file)).toEqual(['records.config', 'ssl_multicert.config', 'sni.yaml']);
    expect(r.condition.message).toContain('proxy.config.ssl.server.session_ticket.enable is 0');
    expect(r.condition.message).toContain('line 2 ("b.example.com": ssl_ticket_enabled: 0)');
    expect(analyze({ 'records.config': 'CONFIG proxy.config.ssl.server.session_ticket.number INT 0\n' }).condition.message).toContain('no TLS 1.3 session tickets');
  });

  it('TicketLifetimeHintExceedsRetention: an explicit timeout, or OpenSSL default, longer than ticketLifetime', () => {
    const r = analyze({ 'records.config': 'CONFIG proxy.config.ssl.session_cache.timeout INT 86400\n' });
    expect(r.condition.reason).toBe('TicketLifetimeHintExceedsRetention');
    expect(r.condition.message).toContain('records.config line 1: proxy.config.ssl.session_cache.timeout is 86400 (24h)');
    expect(r.condition.message).toContain('longer than spec.ticketLifetime (12h)');
    expect(r.condition.message).toContain('at most 43200');
    // Unset: OpenSSL's 2h default against a 1h lifetime.
    const d = analyze({ 'records.config': '# nothing\n' }, { ticketLifetimeMs: H });
    expect(d.condition.message).toContain("OpenSSL's default of 7200s (2h)");
    expect(analyze({ 'records.config': '# nothing\n' }, { ticketLifetimeMs: 2 * H }).condition.reason).toBe('Consistent');
  });

  it('ConfigMapNotFound: status Unknown', () => {
    const r = analyzeConfigConsistency({ configMapName: 'ats', configMap: { found: false }, ticketLifetimeMs: H, fileFallbackEnabled: false });
    expect(r.condition).toEqual({
      type: 'ConfigConsistent',
      status: 'Unknown',
      reason: 'ConfigMapNotFound',
      message: 'ConfigMap ats (spec.atsConfig.configMapRef) does not exist in this namespace; the ATS configuration cannot be checked',
    });
  });

  it('ConfigUnparseable: whole files and skipped lines, with file and line', () => {
    const r = analyze({ 'sni.yaml': 'sni:\n- fqdn: [\n', 'records.config': 'CONFIG a INT\n', 'ssl_multicert.config': 'x'.repeat(1024 * 1024 + 1) });
    expect(r.condition).toMatchObject({ status: 'Unknown', reason: 'ConfigUnparseable' });
    expect(r.findings.map((f) => f.file).sort()).toEqual(['records.config', 'sni.yaml', 'ssl_multicert.config']);
    expect(r.condition.message).toContain('records.config: line 1: expected `CONFIG name TYPE value`');
    expect(r.condition.message).toContain('ssl_multicert.config: the file is 1048577 bytes');
    expect(r.condition.message).toMatch(/sni\.yaml line \d+: YAML syntax error/);
  });

  it('binary data in a ConfigMap binaryData key is refused with file and line', () => {
    const files = configMapFiles({}, { 'records.config': Buffer.from('CONFIG a INT 1\n\u0000\u0001').toString('base64') });
    const r = analyzeConfigConsistency({ configMapName: 'ats', configMap: { found: true, ...parseAtsConfigFiles(files) }, ticketLifetimeMs: 12 * H, fileFallbackEnabled: false });
    expect(r.condition.message).toBe('records.config line 2: binary content: control character 0x00 in a text file');
  });

  it('lists every finding, most severe first, and takes the reason of the most severe', () => {
    const r = analyze({
      'records.config': [
        'CONFIG proxy.config.ssl.server.session_ticket.number INT 0',
        'CONFIG proxy.config.ssl.session_cache.timeout INT 1T',
        'CONFIG proxy.config.ssl.server.ticket_key.filename STRING rel.key',
        'bad line',
      ].join('\n'),
      'ssl_multicert.config': 'dest_ip=1.2.3.4 ssl_cert_name=a.pem\n',
    });
    expect(r.findings.map((f) => f.reason)).toEqual([
      'RelativeTicketKeyFile',
      'ConfigUnparseable',
      'DestIpLinesUsePrivateKeys',
      'TicketLifetimeHintExceedsRetention',
      'SessionTicketsDisabled',
    ]);
    expect(r.condition).toMatchObject({ status: 'False', reason: 'RelativeTicketKeyFile' });
    for (const f of r.findings) expect(r.condition.message).toContain(f.message);
    expect(CONFIG_REASONS_BY_SEVERITY.indexOf('RelativeTicketKeyFile')).toBe(0);
  });

  it('bounds the message and the named lines for a hostile file', () => {
    const r = analyze({ 'ssl_multicert.config': Array.from({ length: 5000 }, (_, i) => `dest_ip=10.0.${i >> 8}.${i & 255} ssl_cert_name=a.pem`).join('\n') });
    expect(r.findings[0]?.lines).toHaveLength(5000);
    expect(r.condition.message).toContain('and 4990 more');
    expect(r.condition.message.length).toBeLessThanOrEqual(4096);
  });
});

describe('configFilesHash', () => {
  it('is independent of order, and differs for any change of name or content', () => {
    const a = configMapFiles({ 'a.config': 'x', 'b.config': 'y' });
    expect(configFilesHash(a)).toBe(configFilesHash([...a].reverse()));
    expect(configFilesHash(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(configFilesHash(configMapFiles({ 'a.config': 'xy' }))).not.toBe(configFilesHash(configMapFiles({ 'a.config': 'x', y: '' })));
    expect(configFilesHash(configMapFiles({ 'a.config': 'x' }))).not.toBe(configFilesHash(configMapFiles({ 'b.config': 'x' })));
  });
});
