// The TicketKeySet object and the CRD's root OpenAPI schema, composed from spec and status.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { Type } from '@sinclair/typebox';
import { MAX_NAME_LENGTH, KIND, API_VERSION } from './names.ts';
import { CEL_KEY, OpaqueObject } from './schema-kit.ts';
import { TicketKeySetSpecSchema } from './spec.ts';
import type { TicketKeySetSpec } from './spec.ts';
import { TicketKeySetStatusSchema } from './status.ts';
import type { TicketKeySetStatus } from './status.ts';

/**
 * `openAPIV3Schema` of the CRD. `metadata` may only be `type: object` in a structural schema; the
 * name limit is a CEL rule at the root, the one place that can see metadata.name.
 */
export const TicketKeySetSchema = Type.Object(
  {
    apiVersion: Type.Optional(
      Type.String({
        description:
          'APIVersion defines the versioned schema of this representation of an object. More info: ' +
          'https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
      }),
    ),
    kind: Type.Optional(
      Type.String({
        description:
          'Kind is a string value representing the REST resource this object represents. More info: ' +
          'https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
      }),
    ),
    // Structural schemas allow nothing but `type: object` here (not even a description).
    metadata: Type.Optional(OpaqueObject<V1ObjectMeta>()),
    spec: TicketKeySetSpecSchema,
    status: Type.Optional(TicketKeySetStatusSchema),
  },
  {
    description:
      'TicketKeySet owns the TLS session-ticket encryption keys (STEKs) of a set of Apache Traffic Server pods: ' +
      'the operator generates keys in the cluster, rotates them on schedule without failing resumptions, ' +
      'and installs them in the running proxies through an in-pod agent.',
    [CEL_KEY]: [
      {
        rule: `size(self.metadata.name) <= ${MAX_NAME_LENGTH}`,
        message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters (it is used as a label value)`,
      },
    ],
  },
);

/** A TicketKeySet as read from the API server. */
export interface TicketKeySet {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: TicketKeySetSpec;
  status?: TicketKeySetStatus;
}

export interface TicketKeySetList {
  apiVersion: typeof API_VERSION;
  kind: 'TicketKeySetList';
  metadata: { resourceVersion?: string; continue?: string };
  items: TicketKeySet[];
}
