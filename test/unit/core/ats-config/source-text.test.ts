import { describe, expect, it } from '@jest/globals';
import { ConfigUnparseable } from '../../../../src/core/ats-config/problems.ts';
import { configLines, configText, MAX_CONFIG_FILE_BYTES } from '../../../../src/core/ats-config/source-text.ts';

function refusal(fn: () => unknown): ConfigUnparseable {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigUnparseable) return err;
    throw err;
  }
  throw new Error('expected ConfigUnparseable');
}

describe('configText', () => {
  it('accepts text as a string or UTF-8 bytes, dropping a byte-order mark', () => {
    expect(configText('f', 'a\nb')).toBe('a\nb');
    expect(configText('f', Buffer.from('\uFEFFé\n', 'utf8'))).toBe('é\n');
  });

  it('refuses a file over 1 MiB, naming the file and its size', () => {
    const e = refusal(() => configText('records.config', Buffer.alloc(MAX_CONFIG_FILE_BYTES + 1, 0x61)));
    expect(e.file).toBe('records.config');
    expect(e.line).toBeUndefined();
    expect(e.message).toContain(`${MAX_CONFIG_FILE_BYTES + 1} bytes`);
    // Exactly 1 MiB is still accepted.
    expect(configText('f', 'a'.repeat(MAX_CONFIG_FILE_BYTES)).length).toBe(MAX_CONFIG_FILE_BYTES);
  });

  it('refuses control characters and names the line', () => {
    const e = refusal(() => configText('sni.yaml', 'sni:\n- fqdn: a\n\u0000\n'));
    expect(e.line).toBe(3);
    expect(e.message).toBe('sni.yaml line 3: binary content: control character 0x00 in a text file');
  });

  it('refuses bytes that are not UTF-8 and names the line', () => {
    const e = refusal(() => configText('ssl_multicert.config', Buffer.concat([Buffer.from('a\r\nb\n'), Buffer.from([0xff, 0xfe])])));
    expect(e.line).toBe(3);
    expect(e.detail).toContain('not UTF-8');
  });

  it('numbers lines the way editors do (CRLF, LF, CR)', () => {
    expect(configLines('a\r\nb\nc\rd')).toEqual(['a', 'b', 'c', 'd']);
  });
});
