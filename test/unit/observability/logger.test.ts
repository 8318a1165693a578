import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { createLogger, redact } from '../../../src/observability/logger.ts';
import { newKey } from '../../fixtures/keys.ts';

function capture(): { lines: () => Record<string, unknown>[]; stream: PassThrough } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d.toString('utf8')));
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logger redaction (the safety net behind "never log key bytes")', () => {
  const key = newKey();

  it('never writes key bytes, whatever shape they slip in as', async () => {
    const out = capture();
    const log = createLogger({ component: 'test', stream: out.stream });
    log.info(`installed ${key.toString('base64')}`, {
      buffer: key,
      material: key.toString('base64'),
      nested: { hex: key.toString('hex'), list: [key.toString('base64')] },
      err: new Error(`bad ring ${key.toString('base64')}`),
    });
    await new Promise((r) => setImmediate(r));
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain(key.toString('base64'));
    expect(text).not.toContain(key.toString('hex'));
    expect(text).not.toContain(key.toString('hex').slice(0, 44));
    expect(out.lines()[0]).toMatchObject({ buffer: '[48 bytes redacted]', material: '[redacted]', component: 'test', level: 'info' });
  });

  it('keeps what operators need to read: names, work-queue keys, fingerprints, paths', () => {
    const fields = {
      key: 'edge-proxies/ticket-keys-for-the-edge-deployment-in-region-eu-west',
      pod: 'ats-edge-deployment-7d9f8b6c5d-x2x9z',
      fingerprint: '0123456789abcdef',
      ringFingerprint: '7fffffffffffffff',
      path: '/root/.cache/ticket-key-operator/testbed/k8s-v1.36.3_etcd-v3.6.8_helm-v3.22.0_dad254509c7c/bin',
    };
    expect(redact(fields)).toEqual(fields);
  });

  it('logs an error as its one-line description: the body a library error appends never shows', async () => {
    const out = capture();
    const log = createLogger({ component: 'test', stream: out.stream });
    const body = { kind: 'Secret', metadata: { name: 'web-ticket-keys' }, data: { 'ring.json': 'secret-looking-but-short' } };
    log.warn('request failed', { err: new ApiException(422, 'Unprocessable Entity', body, {}) });
    await new Promise((r) => setImmediate(r));
    expect(out.lines()[0]).toMatchObject({ err: 'Error: HTTP-Code: 422' });
    expect(JSON.stringify(out.lines())).not.toContain('secret-looking-but-short');
  });
});

describe('logger levels', () => {
  it('drops calls below the level before formatting them, and follows a level changed at run time', async () => {
    const out = capture();
    const log = createLogger({ component: 'test', level: 'warn', stream: out.stream });
    // A nested object only the redaction format walks: formatting a dropped line would list its keys.
    let formatted = 0;
    const meta = {
      nested: new Proxy(
        {},
        {
          ownKeys: () => {
            formatted++;
            return [];
          },
        },
      ),
    };
    log.debug('hot path', meta);
    log.info('hot path', meta);
    log.child({ pod: 'p' }).debug('child hot path', meta);
    log.warn('kept', { pod: 'p' });
    log.level = 'debug';
    log.debug('now kept');
    await new Promise((r) => setImmediate(r));
    expect(formatted).toBe(0);
    expect(out.lines().map((l) => [l.level, l.message])).toEqual([
      ['warn', 'kept'],
      ['debug', 'now kept'],
    ]);
  });
});
