// `tko crd apply --file F`: brings the TicketKeySet CRD to the version in F by server-side apply.
// The chart's opt-in upgrade hook (values crds.upgrade) runs it, because Helm installs crds/ once
// and never upgrades it. The file is input: only the one CRD this operator owns is applied, so a
// wrong file (or a ConfigMap someone edited) cannot touch any other resource.
import type { Command } from 'commander';
// yaml statically: a bundler cannot give a dynamic import() of a CommonJS package its named exports.
import { parseAllDocuments } from 'yaml';
import { CRD_NAME } from '../api/names.ts';

/** Owns the fields it applies, as Helm would had it upgraded them. */
export const CRD_FIELD_MANAGER = 'ticket-key-operator-crd-upgrade';

interface CrdFlags {
  file: string;
  kubeconfig?: string;
  kubeTimeout: string;
}

interface CrdObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
  spec?: { versions?: Array<{ name?: unknown }> };
}

/** The one CRD document in the file, or an error that says what the file holds instead. */
export function crdFromManifest(text: string, parse: (text: string) => unknown[]): CrdObject {
  const docs = parse(text).filter((d) => d !== null && d !== undefined) as CrdObject[];
  const crds = docs.filter((d) => d.kind === 'CustomResourceDefinition');
  if (docs.length !== 1 || crds.length !== 1) {
    const kinds = docs.map((d) => String(d.kind ?? '?')).join(', ') || 'nothing';
    throw new Error(`expected exactly one CustomResourceDefinition, found ${kinds}`);
  }
  const crd = crds[0]!;
  if (crd.apiVersion !== 'apiextensions.k8s.io/v1') throw new Error(`expected apiextensions.k8s.io/v1, found ${String(crd.apiVersion)}`);
  if (crd.metadata?.name !== CRD_NAME) throw new Error(`refusing to apply CRD ${String(crd.metadata?.name)}: only ${CRD_NAME} is this operator's`);
  if (!Array.isArray(crd.spec?.versions) || crd.spec.versions.length === 0) throw new Error('the CRD has no spec.versions');
  return crd;
}

export function registerCrd(program: Command): void {
  const crd = program.command('crd').description(`manage the ${CRD_NAME} CustomResourceDefinition`);
  crd
    .command('apply')
    .description(`server-side apply the ${CRD_NAME} CRD from a manifest (the chart's upgrade hook runs this)`)
    .requiredOption('--file <manifest>', 'the CRD manifest, e.g. charts/ticket-key-operator/crds/ticketkeysets.ticketkeys.dev.yaml')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config or in-cluster)')
    .option('--kube-timeout <duration>', 'timeout of each Kubernetes API request', '30s')
    .action(async (flags: CrdFlags) => {
      const [{ readFileSync }, { ApiextensionsV1Api }, { serverSideApply, withTimeout }, { toKubeError }, { parseDuration }, { clientKubeConfig }] =
        await Promise.all([
          import('node:fs'),
          import('@kubernetes/client-node'),
          import('../operator/runtime/request-options.ts'),
          import('../operator/runtime/api-errors.ts'),
          import('../core/duration.ts'),
          import('./kube-config.ts'),
        ]);
      const timeoutMs = parseDuration(flags.kubeTimeout);
      const body = crdFromManifest(readFileSync(flags.file, 'utf8'), (t) => parseAllDocuments(t).map((d) => d.toJS() as unknown));
      const { kc } = await clientKubeConfig(flags);
      const api = kc.makeApiClient(ApiextensionsV1Api);
      try {
        const applied = await api.patchCustomResourceDefinition(
          // force: take over fields Helm's install (field manager "helm") set, as an upgrade would.
          { name: CRD_NAME, body, fieldManager: CRD_FIELD_MANAGER, force: true },
          serverSideApply(withTimeout(timeoutMs)),
        );
        const versions = (applied.spec.versions ?? []).map((v) => `${v.name}${v.storage ? ' (storage)' : ''}`).join(', ');
        console.log(`applied CustomResourceDefinition ${CRD_NAME}: versions ${versions}; resourceVersion ${applied.metadata?.resourceVersion ?? '?'}`);
      } catch (err) {
        throw toKubeError(err, `customresourcedefinition ${CRD_NAME}`);
      }
    });
}
