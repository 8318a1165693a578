// Walks the CRD's OpenAPI schema as JSON (what the API server sees), visiting every node with
// its path in the spelling of `kubectl explain` (spec.rotation.interval, ...items, ...values).
import { TicketKeySetSchema } from '../../../src/api/index.ts';

export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  'x-kubernetes-validations'?: Array<{ rule: string; message?: string; messageExpression?: string; fieldPath?: string }>;
  [key: string]: unknown;
}

/** The root schema exactly as it is serialised into the CRD. */
export const rootSchema = JSON.parse(JSON.stringify(TicketKeySetSchema)) as SchemaNode;

export function walk(node: SchemaNode, path: string, visit: (node: SchemaNode, path: string) => void): void {
  visit(node, path);
  for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, path === '' ? name : `${path}.${name}`, visit);
  if (node.items !== undefined) walk(node.items, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`, visit);
}

export function allNodes(): Array<[string, SchemaNode]> {
  const out: Array<[string, SchemaNode]> = [];
  walk(rootSchema, '', (node, path) => out.push([path, node]));
  return out;
}

export function nodeAt(path: string): SchemaNode {
  const node = allNodes().find(([p]) => p === path)?.[1];
  if (node === undefined) throw new Error(`no schema node at ${path}`);
  return node;
}
