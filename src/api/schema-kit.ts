// Small builders for the Kubernetes flavour of OpenAPI v3 on top of TypeBox. Kubernetes wants
// structural schemas: `enum` instead of `const`/`anyOf`, CEL rules under
// `x-kubernetes-validations`, bounded strings and lists so CEL cost estimates stay low.
import { FormatRegistry, Kind, Type, TypeRegistry } from '@sinclair/typebox';
import type { StringOptions, TSchema, TUnsafe } from '@sinclair/typebox';

// Custom kinds for the Kubernetes shapes TypeBox has no structural spelling for, registered so
// that TypeBox's Value.Check / Value.Default work on the same schema the CRD is built from.
const ENUM_KIND = 'K8sStringEnum';
const STRING_MAP_KIND = 'K8sStringMap';
const OBJECT_KIND = 'K8sOpaqueObject';
const INT_OR_PERCENT_KIND = 'K8sIntOrPercent';
/** A count (non-negative integer) or a percentage string such as "25%". */
export const PERCENT_PATTERN = '^(100|[1-9]?[0-9])%$';
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
TypeRegistry.Set<{ enum: string[] }>(ENUM_KIND, (schema, value) => typeof value === 'string' && schema.enum.includes(value));
TypeRegistry.Set<{ maxProperties?: number; additionalProperties: { maxLength?: number } }>(STRING_MAP_KIND, (schema, value) => {
  if (!isPlainObject(value)) return false;
  const entries = Object.values(value);
  if (schema.maxProperties !== undefined && entries.length > schema.maxProperties) return false;
  const max = schema.additionalProperties.maxLength ?? Infinity;
  return entries.every((v) => typeof v === 'string' && v.length <= max);
});
TypeRegistry.Set(OBJECT_KIND, (_schema, value) => isPlainObject(value));
TypeRegistry.Set(
  INT_OR_PERCENT_KIND,
  (_schema, value) => (Number.isSafeInteger(value) && (value as number) >= 0) || (typeof value === 'string' && new RegExp(PERCENT_PATTERN).test(value)),
);
// RFC 3339 as Kubernetes writes metav1.Time (seconds precision, optional fraction, Z or offset).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)));

/** One `x-kubernetes-validations` entry (a CEL rule evaluated by the API server). */
export interface CelRule {
  rule: string;
  message: string;
  /** CEL string expression for a message with values in it; `message` stays the fallback. */
  messageExpression?: string;
  /** Points the error at a child field (relative to the node holding the rule). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** The key TypeBox passes through verbatim into the schema. */
export const CEL_KEY = 'x-kubernetes-validations';

/** A string restricted to `values`, typed as their union (TypeBox's Union of Literals is not structural). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { description: string; default?: T[number] },
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ [Kind]: ENUM_KIND, type: 'string', enum: [...values], ...options });
}

/** map[string]string as `additionalProperties` (TypeBox's Record emits patternProperties, which is not structural). */
export function StringMap(options: { description: string; valueDescription: string; maxProperties: number; maxValueLength: number }) {
  return Type.Unsafe<Record<string, string>>({
    [Kind]: STRING_MAP_KIND,
    type: 'object',
    description: options.description,
    additionalProperties: { type: 'string', description: options.valueDescription, maxLength: options.maxValueLength },
    maxProperties: options.maxProperties,
  });
}

/** An object whose content the schema leaves to others, typed as T (e.g. root metadata). */
export function OpaqueObject<T>() {
  return Type.Unsafe<T>({ [Kind]: OBJECT_KIND, type: 'object' });
}

/**
 * intstr.IntOrString restricted to a count or a percentage, as Deployment's maxUnavailable:
 * `x-kubernetes-int-or-string` (structural), with a CEL rule for a readable message.
 */
export function IntOrPercent(options: { field: string; description: string; default: number | string }) {
  return Type.Unsafe<number | string>({
    [Kind]: INT_OR_PERCENT_KIND,
    'x-kubernetes-int-or-string': true,
    description: options.description,
    default: options.default,
    [CEL_KEY]: [
      {
        rule: `type(self) == int ? self >= 0 : self.matches('${PERCENT_PATTERN}')`,
        message: `${options.field} must be a non-negative integer or a percentage from 0% to 100% (e.g. 1 or "25%")`,
      },
    ],
  });
}

/** Resolves an IntOrPercent against a total; percentages round down, as for maxUnavailable. */
export function resolveIntOrPercent(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  return Math.floor((Number(value.slice(0, -1)) * total) / 100);
}

/** The same schema with its own description (one shape, several fields). */
export function describe<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

/** An RFC 3339 timestamp, as Kubernetes writes metav1.Time. */
export function Timestamp(description: string) {
  return Type.String({ format: 'date-time', description });
}

/**
 * Go duration strings limited to the units that make sense for key schedules, e.g. `12h`,
 * `1h30m`, `90s`, `1.5h`, `500ms`. The same grammar is accepted by CEL's `duration()`.
 * No backslashes, so the pattern can be embedded in CEL string literals unchanged.
 */
export const DURATION_PATTERN = '^([0-9]+([.][0-9]+)?(ms|s|m|h))+$';
export const DURATION_MAX_LENGTH = 32;

/**
 * CEL guard: rules comparing durations run only on well-formed strings, so a malformed value
 * reports the readable pattern error alone instead of an additional CEL evaluation error.
 */
export function celIsDuration(expr: string): string {
  return `${expr}.matches('${DURATION_PATTERN}')`;
}

export interface DurationOptions {
  /** JSON path of the field for messages, e.g. `rotation.interval`. */
  field: string;
  description: string;
  default?: string;
  /** Inclusive lower bound, a duration literal such as `10s`. */
  min?: string;
  /** Inclusive upper bound, a duration literal such as `168h`. */
  max?: string;
  /** Extra words after the bound in messages, e.g. ` (7 days, RFC 8446)`. */
  maxReason?: string;
}

/** A Go duration string with a pattern and CEL bounds that report readable messages. */
export function Duration(options: DurationOptions) {
  const rules: CelRule[] = [];
  if (options.min !== undefined) {
    rules.push({
      rule: `!${celIsDuration('self')} || duration(self) >= duration('${options.min}')`,
      message: `${options.field} must be at least ${options.min}`,
    });
  }
  if (options.max !== undefined) {
    rules.push({
      rule: `!${celIsDuration('self')} || duration(self) <= duration('${options.max}')`,
      message: `${options.field} must be at most ${options.max}${options.maxReason ?? ''}`,
    });
  }
  const schema: StringOptions & Record<string, unknown> = {
    description: options.description,
    pattern: DURATION_PATTERN,
    maxLength: DURATION_MAX_LENGTH,
  };
  if (options.default !== undefined) schema.default = options.default;
  if (rules.length > 0) schema[CEL_KEY] = rules;
  return Type.String(schema);
}
