// The synthesised CRD: names, scope, status subresource, printer columns, and the schema taken
// verbatim from src/api (so the TypeScript types and the API server agree).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { TicketKeySetSchema } from '../../../src/api/index.ts';
import { CRD_FILE } from '../../../src/manifests/app.ts';
import { ticketKeySetCrdManifest } from '../../../src/manifests/crd.ts';

const crd = parse(readFileSync(CRD_FILE, 'utf8')) as ReturnType<typeof ticketKeySetCrdManifest>;
const version = crd.spec.versions[0]!;

describe('TicketKeySet CRD', () => {
  it('is a namespaced apiextensions.k8s.io/v1 CRD named ticketkeysets.ticketkeys.dev', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.metadata.name).toBe('ticketkeysets.ticketkeys.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.group).toBe('ticketkeys.dev');
    expect(crd.spec.names).toMatchObject({ kind: 'TicketKeySet', plural: 'ticketkeysets', singular: 'ticketkeyset', shortNames: ['tks'] });
  });

  it('serves and stores v1alpha1 with the status subresource', () => {
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
  });

  it('has the printer columns of the API', () => {
    expect(version.additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ['Active', 'string', '.status.activeKey.fingerprint'],
      ['Generation', 'integer', '.status.keyGeneration'],
      ['Converged', 'string', '.status.pods.summary'],
      ['Phase', 'string', '.status.phase'],
      ['Last Rotation', 'date', '.status.lastRotationTime'],
      ['Next Rotation', 'string', '.status.nextRotationTime'],
      ['Ready', 'string', '.status.conditions[?(@.type=="Ready")].status'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ]);
  });

  it('carries the TypeBox schema unchanged', () => {
    expect(version.schema.openAPIV3Schema).toEqual(JSON.parse(JSON.stringify(TicketKeySetSchema)));
  });

  it('is the same object the manifest builder returns (what integration tests may apply)', () => {
    expect(crd).toEqual(JSON.parse(JSON.stringify(ticketKeySetCrdManifest())));
  });
});
