// An ApiObject whose metadata.labels may be a Helm block placeholder. cdk8s copies labels as a
// map (a string would be spread into characters), so the placeholder goes in by JSON patch.
import { ApiObject, JsonPatch } from 'cdk8s';
import type { ApiObjectProps } from 'cdk8s';
import type { Construct } from 'constructs';

export interface TemplatedProps {
  apiVersion: string;
  kind: string;
  metadata: { labels?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}

export class TemplatedObject extends ApiObject {
  constructor(scope: Construct, id: string, props: TemplatedProps) {
    const { labels, ...metadata } = props.metadata;
    super(scope, id, { ...props, metadata } as ApiObjectProps);
    if (labels !== undefined) this.addJsonPatch(JsonPatch.add('/metadata/labels', labels));
  }
}
