import { describe, expect, it } from '@jest/globals';
import { formatHostPort, parseHostPort } from '../../../src/agent/host-port.ts';

describe('HOST:PORT flags', () => {
  it.each([
    ['127.0.0.1:9443', { host: '127.0.0.1', port: 9443 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['localhost:80', { host: 'localhost', port: 80 }],
    ['[::1]:9444', { host: '::1', port: 9444 }],
  ])('parses %s', (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected);
    expect(formatHostPort(expected)).toBe(text);
  });

  it.each(['9443', '127.0.0.1', '127.0.0.1:', ':9443', '127.0.0.1:65536', '::1:9443', '127.0.0.1:94a3'])('refuses %s', (text) => {
    expect(() => parseHostPort(text)).toThrow(/expected HOST:PORT/);
  });
});
