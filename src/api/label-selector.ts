// metav1.LabelSelector as a structural schema, bounded so CEL cost estimates stay small, and
// required to select something: an empty selector would match every pod in the namespace.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { CEL_KEY, StringEnum, StringMap } from './schema-kit.ts';

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

export const LabelSelectorRequirementSchema = Type.Object(
  {
    key: Type.String({
      description: 'The label key that the requirement applies to.',
      minLength: 1,
      maxLength: 317,
    }),
    operator: StringEnum(SELECTOR_OPERATORS, {
      description: "How the key relates to the values: one of In, NotIn, Exists, DoesNotExist.",
    }),
    values: Type.Optional(
      Type.Array(Type.String({ description: 'A label value.', maxLength: 63 }), {
        description:
          'Label values. Must be non-empty for In and NotIn, and empty (or absent) for Exists and DoesNotExist.',
        maxItems: 64,
      }),
    ),
  },
  {
    description: 'A label selector requirement: a key, an operator and values.',
    [CEL_KEY]: [
      {
        rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
        message: 'values must be non-empty for operators In and NotIn, and empty for Exists and DoesNotExist',
        fieldPath: '.values',
      },
    ],
  },
);

export const LabelSelectorSchema = Type.Object(
  {
    matchLabels: Type.Optional(
      StringMap({
        description: 'Label key/value pairs; a pod matches when it has every pair. ANDed with matchExpressions.',
        valueDescription: 'The label value a pod must have.',
        maxProperties: 64,
        maxValueLength: 63,
      }),
    ),
    matchExpressions: Type.Optional(
      Type.Array(LabelSelectorRequirementSchema, {
        description: 'Label selector requirements, ANDed with each other and with matchLabels.',
        maxItems: 32,
      }),
    ),
  },
  {
    description:
      'Selects the ATS proxy pods in the same namespace whose session-ticket keys this TicketKeySet owns. ' +
      'Must not be empty: set matchLabels or matchExpressions.',
    [CEL_KEY]: [
      {
        rule: '(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)',
        message:
          'selector must not be empty: set matchLabels or matchExpressions (an empty selector would select every pod in the namespace)',
      },
    ],
  },
);

export type LabelSelector = Static<typeof LabelSelectorSchema>;
