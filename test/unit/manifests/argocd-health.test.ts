// The shipped Argo CD health check (deploy/argocd/resource_customizations/ticketkeys.dev/
// TicketKeySet/health.lua), run by a real Lua interpreter (lua5.4) against Argo CD's own test
// layout: every case of health_test.yaml loads its testdata/ object (live TicketKeySets dumped by
// test/integration/operator-gitops.test.ts) as `obj` and must return the expected status and
// message. Also: objects without a status, and the Lua 5.1 subset Argo CD's gopher-lua runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { API_VERSION, GROUP, KIND } from '../../../src/api/names.ts';
import { argoHealth, HEALTH_DIR, HEALTH_LUA } from '../../helpers/argocd-health.ts';

interface HealthTest {
  tests: Array<{ healthStatus: { status: string; message: string }; inputPath: string }>;
}

const suite = parse(readFileSync(join(HEALTH_DIR, 'health_test.yaml'), 'utf8')) as HealthTest;

describe('Argo CD health check of TicketKeySet (lua5.4)', () => {
  it('covers every Argo CD health status the check can return', () => {
    expect(new Set(suite.tests.map((t) => t.healthStatus.status))).toEqual(new Set(['Healthy', 'Progressing', 'Degraded', 'Suspended']));
  });

  it.each(suite.tests.map((t) => [t.inputPath, t] as const))('%s', async (_path, t) => {
    const obj: unknown = parse(readFileSync(join(HEALTH_DIR, t.inputPath), 'utf8'));
    expect(await argoHealth(obj)).toEqual(t.healthStatus);
  });

  it('a TicketKeySet the operator has not written a status for yet is Progressing', async () => {
    const obj = { apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', metadata: { name: 'web', generation: 1 }, spec: { rotation: { suspend: true } } };
    expect(await argoHealth(obj)).toEqual({ status: 'Progressing', message: 'Waiting for the ticket-key operator to observe the TicketKeySet' });
  });

  it('passes messages through byte for byte (quotes, backslashes, newlines, non-ASCII)', async () => {
    const message = 'pod "a\\b"\nnext: ü → 🔑';
    const obj = {
      metadata: { generation: 3 },
      status: { observedGeneration: 3, conditions: [{ type: 'Ready', status: 'True', reason: 'Converged', message }] },
    };
    expect(await argoHealth(obj)).toEqual({ status: 'Healthy', message });
  });

  it('keeps to the Lua 5.1 subset (Argo CD runs gopher-lua)', () => {
    const code = readFileSync(HEALTH_LUA, 'utf8')
      .split('\n')
      .map((l) => l.replace(/--.*$/, ''))
      .join('\n');
    // goto/labels, integer division, bitwise operators, <const>/<close>, utf8 and table.unpack are 5.2+.
    for (const construct of [/\bgoto\b/, /::\w+::/, /\/\//, /[^~=<>]=?[&|]|~[^=]|<<|>>/, /<const>|<close>/, /\butf8\./, /table\.unpack/]) {
      expect(code).not.toMatch(construct);
    }
  });
});

describe('shipped GitOps manifests', () => {
  const load = <T>(file: string) => parse(readFileSync(join(import.meta.dirname, '../../..', file), 'utf8')) as T;

  it('the argocd-cm snippet carries health.lua verbatim under the resource.customizations.health key', () => {
    const cm = load<{ data: Record<string, string> }>('deploy/argocd/argocd-cm.yaml');
    expect(cm.data[`resource.customizations.health.${GROUP}_${KIND}`]).toBe(readFileSync(HEALTH_LUA, 'utf8'));
  });

  it('the Argo CD Application syncs with server-side apply and ignores only the request annotations', () => {
    const app = load<{ spec: { syncPolicy: { syncOptions: string[] }; ignoreDifferences: unknown } }>('deploy/argocd/application.yaml');
    expect(app.spec.syncPolicy.syncOptions).toEqual(expect.arrayContaining(['ServerSideApply=true', 'RespectIgnoreDifferences=true']));
    expect(app.spec.ignoreDifferences).toEqual([
      { group: GROUP, kind: KIND, jsonPointers: ['/metadata/annotations/ticketkeys.dev~1rotate-now', '/metadata/annotations/ticketkeys.dev~1revoke'] },
    ]);
  });

  it('the Flux Kustomization health-checks a TicketKeySet', () => {
    const ks = load<{ spec: { healthChecks: unknown } }>('deploy/flux/kustomization.yaml');
    expect(ks.spec.healthChecks).toEqual([{ apiVersion: API_VERSION, kind: KIND, name: 'edge', namespace: 'edge' }]);
  });
});
