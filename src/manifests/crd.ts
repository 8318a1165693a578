// The TicketKeySet CustomResourceDefinition, built from the TypeBox schema in src/api (the same
// source as the TypeScript types), so the CRD and the code cannot disagree.
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import {
  CRD_NAME,
  GROUP,
  KIND,
  LIST_KIND,
  PLURAL,
  PRINTER_COLUMNS,
  SHORT,
  SINGULAR,
  TicketKeySetSchema,
  VERSION,
} from '../api/index.ts';

/** The CRD manifest as a plain object (also what integration tests apply). */
export function ticketKeySetCrdManifest() {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'ticket-key-operator', 'app.kubernetes.io/part-of': 'ticket-key-operator' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: LIST_KIND, plural: PLURAL, singular: SINGULAR, shortNames: [SHORT], categories: ['ats'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: toPlainJson(TicketKeySetSchema) },
          subresources: { status: {} },
          additionalPrinterColumns: PRINTER_COLUMNS,
        },
      ],
    },
  };
}

export class TicketKeySetCrd extends ApiObject {
  constructor(scope: Construct, id: string) {
    const { apiVersion, kind, metadata, spec } = ticketKeySetCrdManifest();
    super(scope, id, { apiVersion, kind, metadata, spec });
  }
}

/** Drops TypeBox's symbol-keyed bookkeeping and undefined values: the schema as JSON says it. */
function toPlainJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
