// Installs the repo's CustomResourceDefinitions into the test bed the way a cluster admin would
// (server-side apply) and waits until each one is Established and its resources are served.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, CustomObjectsApi, PatchStrategy } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { kubeRequest } from './kube-request.ts';
import { parseAllDocuments } from 'yaml';

export const TESTBED_FIELD_MANAGER = 'tko-testbed';

export function readCrds(crdDir: string): V1CustomResourceDefinition[] {
  if (!existsSync(crdDir)) return [];
  const files = readdirSync(crdDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const crds: V1CustomResourceDefinition[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(join(crdDir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj?.kind === 'CustomResourceDefinition') crds.push(obj as V1CustomResourceDefinition);
    }
  }
  return crds;
}

function establishedProblem(crd: V1CustomResourceDefinition): string | undefined {
  const conditions = crd.status?.conditions ?? [];
  const established = conditions.find((c) => c.type === 'Established');
  if (established?.status === 'True') return undefined;
  const names = conditions.find((c) => c.type === 'NamesAccepted' && c.status === 'False');
  return names?.message ?? established?.message ?? 'not Established yet';
}

export async function applyCrds(kc: KubeConfig, crds: V1CustomResourceDefinition[], timeoutMs = 60_000): Promise<void> {
  const extensions = kc.makeApiClient(ApiextensionsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const crd of crds) {
    // Raw server-side apply: the typed clients would drop `default` and CEL rules (see kube-request.ts).
    const name = encodeURIComponent(crd.metadata?.name ?? '');
    const res = await kubeRequest(kc, 'PATCH', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=${TESTBED_FIELD_MANAGER}&force=true`, {
      headers: { 'Content-Type': PatchStrategy.ServerSideApply },
      body: crd,
    });
    if (res.status >= 300) throw new Error(`applying CRD ${crd.metadata?.name} failed (${res.status}): ${res.body}`);
  }
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    let problem: string | undefined = 'not read yet';
    while (problem !== undefined) {
      problem = establishedProblem(await extensions.readCustomResourceDefinition({ name }));
      if (problem === undefined) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} did not become Established: ${problem}`);
      await sleep(100);
    }
    // Established means the handler is installed; a first list proves it answers.
    for (const version of crd.spec.versions.filter((v) => v.served)) {
      const list = { group: crd.spec.group, version: version.name, plural: crd.spec.names.plural };
      for (;;) {
        try {
          await custom.listClusterCustomObject(list);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`${crd.spec.names.plural}.${crd.spec.group}/${version.name} is not served: ${String(err)}`);
          await sleep(100);
        }
      }
    }
  }
}
