// The synthesised CRD on a real API server: accepted as a structural schema, Established, and
// serving the field descriptions that `kubectl explain` shows.
import { describe, expect, it } from '@jest/globals';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { CRD_NAME, GROUP, KIND, PLURAL, SHORT, VERSION } from '../../src/api/names.ts';
import { kubeRequest, testKubeConfig } from '../helpers/kube.ts';

const kc = testKubeConfig();

interface OpenApiSchema {
  description?: string;
  type?: string;
  properties?: Record<string, OpenApiSchema>;
  items?: OpenApiSchema;
  additionalProperties?: OpenApiSchema | boolean;
  allOf?: OpenApiSchema[];
  $ref?: string;
  default?: unknown;
}

/** Dotted paths of every field below `schema` that has no description. */
function fieldsWithoutDescription(schema: OpenApiSchema, path: string): string[] {
  const missing: string[] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const childPath = `${path}.${name}`;
    if (!child.description?.trim()) missing.push(childPath);
    missing.push(...fieldsWithoutDescription(child, childPath));
  }
  if (schema.items) missing.push(...fieldsWithoutDescription(schema.items, `${path}[]`));
  if (typeof schema.additionalProperties === 'object') missing.push(...fieldsWithoutDescription(schema.additionalProperties, `${path}{}`));
  return missing;
}

function field(schema: OpenApiSchema, path: string): OpenApiSchema {
  let node: OpenApiSchema | undefined = schema;
  for (const part of path.split('.')) node = node?.properties?.[part];
  if (!node) throw new Error(`no field ${path} in the served schema`);
  return node;
}

async function servedSchema(): Promise<OpenApiSchema> {
  const res = await kubeRequest(kc, 'GET', `/openapi/v3/apis/${GROUP}/${VERSION}`);
  expect(res.status).toBe(200);
  const doc = res.json<{ components: { schemas: Record<string, OpenApiSchema> } }>();
  // OpenAPI names are the reversed group, the version and the kind.
  const name = `${GROUP.split('.').reverse().join('.')}.${VERSION}.${KIND}`;
  const schema = doc.components.schemas[name];
  if (!schema) throw new Error(`${name} not in /openapi/v3/apis/${GROUP}/${VERSION}: ${Object.keys(doc.components.schemas).join(', ')}`);
  return schema;
}

describe('TicketKeySet CRD', () => {
  it('is accepted as a structural schema and Established under its names', async () => {
    const crd = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: CRD_NAME });
    const conditions = Object.fromEntries((crd.status?.conditions ?? []).map((c) => [c.type, c]));
    expect(conditions.Established?.status).toBe('True');
    expect(conditions.NamesAccepted?.status).toBe('True');
    // The API server reports a non-structural schema as a condition instead of rejecting it.
    expect(conditions.NonStructuralSchema).toBeUndefined();
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.status?.acceptedNames).toMatchObject({ kind: KIND, plural: PLURAL, shortNames: [SHORT] });
    const served = crd.spec.versions.find((v) => v.name === VERSION);
    expect(served).toMatchObject({ served: true, storage: true, subresources: { status: {} } });
  });

  it('serves a description for every spec and status field in OpenAPI v3 (kubectl explain)', async () => {
    const schema = await servedSchema();
    expect(schema.description?.trim()).toBeTruthy();
    for (const top of ['spec', 'status']) {
      expect(field(schema, top).description?.trim()).toBeTruthy();
      expect(fieldsWithoutDescription(field(schema, top), top)).toEqual([]);
    }
    // Spot checks of what a user reads with `kubectl explain tks.spec...`.
    expect(field(schema, 'spec.rotation.interval').description).toMatch(/duration/i);
    expect(field(schema, 'spec.promotion.policy').description).toContain('AllPodsAcknowledged');
    expect(field(schema, 'spec.selector').description).toMatch(/pods/i);
  });

  it('publishes the defaults in the served schema', async () => {
    const schema = await servedSchema();
    // On the parent, so a rotation.schedule never meets a defaulted interval.
    expect(field(schema, 'spec.rotation').default).toEqual({ interval: '12h' });
    expect(field(schema, 'spec.promotion.policy').default).toBe('AllPodsAcknowledged');
    expect(field(schema, 'spec.agent.port').default).toBe(9443);
  });
});
