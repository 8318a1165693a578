// `tko crd apply` applies only this operator's CRD: any other document in the file is refused
// before a request is made.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { crdFromManifest } from '../../../src/cli/crd.ts';

const parse = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown);
const crdYaml = readFileSync(new URL('../../../crds/ticketkeysets.ticketkeys.dev.yaml', import.meta.url), 'utf8');

describe('crdFromManifest', () => {
  it('accepts the generated CRD file', () => {
    expect(crdFromManifest(crdYaml, parse).metadata?.name).toBe('ticketkeysets.ticketkeys.dev');
  });

  it.each([
    ['another CRD', crdYaml.replace(/name: ticketkeysets\.ticketkeys\.dev/, 'name: widgets.example.com'), 'refusing to apply CRD widgets.example.com: only ticketkeysets.ticketkeys.dev'],
    ['a second document', `${crdYaml}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n`, 'found CustomResourceDefinition, Namespace'],
    ['a ConfigMap', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n', 'found ConfigMap'],
    ['an empty file', '', 'found nothing'],
    ['an old API version', crdYaml.replace('apiextensions.k8s.io/v1', 'apiextensions.k8s.io/v1beta1'), 'expected apiextensions.k8s.io/v1'],
  ])('refuses %s', (_what, text, message) => {
    expect(() => crdFromManifest(text, parse)).toThrow(message);
  });
});
