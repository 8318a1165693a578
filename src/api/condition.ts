// metav1.Condition, with the validation Kubernetes' own types carry, so conditions written by
// the operator look and behave like every other controller's.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { CONDITION_DEGRADED, CONDITION_PROGRESSING, CONDITION_READY } from './names.ts';
import { StringEnum, Timestamp } from './schema-kit.ts';

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

export const ConditionSchema = Type.Object(
  {
    type: Type.String({
      description: `Type of condition in CamelCase: ${CONDITION_READY}, ${CONDITION_PROGRESSING} or ${CONDITION_DEGRADED}.`,
      maxLength: 316,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: StringEnum(CONDITION_STATUSES, { description: 'Status of the condition: True, False or Unknown.' }),
    observedGeneration: Type.Optional(
      Type.Integer({
        description: 'The .metadata.generation the condition was set from.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    lastTransitionTime: Timestamp('Last time the condition changed from one status to another.'),
    reason: Type.String({
      description: 'Programmatic identifier (CamelCase) of the reason for the last transition.',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: Type.String({
      description: 'Human-readable details about the transition, e.g. the pods that have not acknowledged.',
      maxLength: 32768,
    }),
  },
  { description: 'One aspect of the current state (metav1.Condition).' },
);

export type Condition = Static<typeof ConditionSchema>;
