// Helpers for unit tests that talk to a fake API server through nock.
import { afterAll, afterEach, beforeAll, beforeEach } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import nock from 'nock';

export const SERVER = 'https://kube.test:6443';
export const JSON_HEADERS = { 'content-type': 'application/json' };

export function fakeKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: SERVER, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'test-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kc;
}

/** A metav1.Status body as the API server sends with errors. */
export function status(code: number, reason: string, message = reason): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

/**
 * Registers the nock hooks of a test file: no real network, interceptors cleared after each
 * test, and nock deactivated after the file. Jest loads a fresh nock per test file, and an
 * instance left active would intercept (and answer) the next file's requests a second time.
 */
export function useNock(): void {
  beforeAll(() => {
    if (!nock.isActive()) nock.activate();
  });
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
  afterAll(() => nock.restore());
}

/** A parsed JSON request body, loosely typed on purpose: tests only assert on its fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
