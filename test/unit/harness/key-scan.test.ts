// The leak scanner of the fault-injection tests finds a key in every form it claims to, and
// nothing in clean text (a scanner that finds nothing proves nothing).
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { newKey } from '../../fixtures/keys.ts';
import { KeyScanner } from '../../helpers/key-scan.ts';

function scanner(key: Buffer): KeyScanner {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  const s = new KeyScanner(kc, 'unused', []); // never reads a Secret here
  s.addKey('fp-under-test', key);
  return s;
}

describe('KeyScanner', () => {
  const key = newKey();
  const name = key.subarray(0, 16);
  const forms: Record<string, string> = {
    raw: `log line ${key.toString('latin1')} end`,
    hex: `{"k":"${key.toString('hex')}"}`,
    HEX: key.toString('hex').toUpperCase(),
    base64: `material=${key.toString('base64')}`,
    base64url: key.toString('base64url'),
    'decimal list': JSON.stringify(key),
    'key name hex': `ticket ${name.toString('hex')}…`,
    'key name base64': name.toString('base64'),
    'key name base64url': name.toString('base64url'),
  };

  it.each(Object.entries(forms))('finds the key in %s form', (form, text) => {
    const s = scanner(key);
    try {
      const hits = s.scan({ [form]: text });
      expect(hits.length).toBeGreaterThan(0);
      expect(hits.every((h) => h.source === form && h.fingerprint === 'fp-under-test')).toBe(true);
    } finally {
      s.destroy();
    }
  });

  it('finds nothing in text without the key, and refuses to scan with no keys', () => {
    const s = scanner(key);
    try {
      expect(s.scan({ clean: `${randomBytes(64).toString('hex')} ${randomBytes(64).toString('base64')}` })).toEqual([]);
    } finally {
      s.destroy();
    }
    expect(() => s.scan({ any: 'text' })).toThrow(/holds no keys/);
  });
});
