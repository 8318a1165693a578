// Clients for tests that run against the real test bed started by the jest global setup
// (test/testbed/jest-global-setup.ts), and a namespace per test file.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/names.ts';
import { statusCodeOf } from '../../src/operator/runtime/api-errors.ts';
import { kubeConfigFor } from '../../dev/testbed/testbed.ts';
import type { Identity } from '../../dev/testbed/testbed.ts';

export { kubeRequest } from '../../dev/testbed/kube-request.ts';
export type { RawResponse } from '../../dev/testbed/kube-request.ts';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this test through a jest project whose global setup starts the test bed (npm run test:integration)`);
  }
  return value;
}

/** The cluster admin (group system:masters) of the test bed. */
export function testKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(requiredEnv('TKO_TEST_KUBECONFIG'));
  return kc;
}

export function testbedDir(): string {
  return requiredEnv('TKO_TESTBED_DIR');
}

/** Acts as another user for RBAC tests: a client certificate with CN = user and O = groups. */
export function kubeConfigAs(identity: Identity): Promise<KubeConfig> {
  return kubeConfigFor(testbedDir(), identity);
}

/** An HTTP status from a client-node 2.x error: the operator's own helper, one definition. */
export const statusOf = statusCodeOf;

/**
 * The `message` of the Status object in a client-node 2.x error: what kubectl would print.
 * ApiException keeps the response body as a string or as parsed JSON depending on the call.
 */
export function statusMessage(err: unknown): string {
  const body = (err as { body?: unknown })?.body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body;
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string') return message;
  return err instanceof Error ? err.message : String(err);
}

export interface TestNamespace {
  readonly name: string;
}

/**
 * Gives the calling test file its own namespace: created (with the `default` ServiceAccount
 * that kube-controller-manager would add, which pod admission requires) before the file's
 * tests, deleted after them. There is no namespace controller in the test bed, so a deleted
 * namespace stays Terminating with its objects until the test bed goes; names never repeat.
 */
export function useNamespace(prefix = 'test'): TestNamespace {
  const name = `${prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40)}-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    const core = testKubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name, labels: { 'ticketkeys.dev/test': 'true' } } } });
    await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
  });
  afterAll(async () => {
    const kc = testKubeConfig();
    // Without a namespace controller the namespace's objects outlive it; TicketKeySets (no
    // finalizers) go at once, so no later operator watching all namespaces acts on them.
    await kc
      .makeApiClient(CustomObjectsApi)
      .deleteCollectionNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: name })
      .catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
      });
    const core = kc.makeApiClient(CoreV1Api);
    await core.deleteNamespace({ name }).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw err;
    });
  });
  return { name };
}

/** Polls until check returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError instanceof Error ? lastError.message : String(lastError)}` : ''}`);
    }
    await sleep(50);
  }
}
