// The spec as the operator sees it after the API server applied the schema defaults. Specs built
// in memory (tests, CLI) get the same defaults from the same schema via TypeBox's Value.Default.
import { Value } from '@sinclair/typebox/value';
import { DEFAULT_ROTATION_INTERVAL } from './defaults.ts';
import { TicketKeySetSpecSchema } from './spec.ts';
import type { TicketKeySetSpec } from './spec.ts';

type Spec = TicketKeySetSpec;

type Rotation = NonNullable<Spec['rotation']>;

/**
 * Every defaulted field present; atsConfig and ticketLifetime stay optional (they have no
 * default), and so do rotation.interval (defaulted with rotation itself, so a schedule never
 * meets it) and the schedule fields.
 */
export type DefaultedTicketKeySetSpec = Omit<Spec, 'rotation' | 'promotion' | 'agent' | 'sessionCache' | 'availability' | 'fileFallback'> & {
  availability: Required<NonNullable<Spec['availability']>>;
  rotation: Omit<Rotation, 'suspend'> & Required<Pick<Rotation, 'suspend'>>;
  promotion: Required<NonNullable<Spec['promotion']>>;
  agent: Required<NonNullable<Spec['agent']>>;
  sessionCache: Omit<Required<NonNullable<Spec['sessionCache']>>, 'sharing'> & {
    sharing: Required<NonNullable<NonNullable<Spec['sessionCache']>['sharing']>>;
  };
  fileFallback: Required<NonNullable<Spec['fileFallback']>>;
};

/** A copy of `spec` with the schema's defaults filled in (the input is not modified). */
export function withSpecDefaults(spec: Spec): DefaultedTicketKeySetSpec {
  const out = Value.Default(TicketKeySetSpecSchema, structuredClone(spec)) as DefaultedTicketKeySetSpec;
  // TypeBox merges an object default into a present object; the API server applies it only to
  // an absent one. A rotation written without an interval keeps none (it may hold a schedule).
  if (spec.rotation !== undefined && spec.rotation.interval === undefined) delete out.rotation.interval;
  return out;
}

/**
 * ticketLifetime, or rotation.interval when unset (the documented meaning of "unset"); undefined
 * for a schedule, whose default depends on the gaps between its slots (core/policy.ts).
 */
export function effectiveTicketLifetime(spec: DefaultedTicketKeySetSpec): string | undefined {
  if (spec.ticketLifetime !== undefined) return spec.ticketLifetime;
  if (spec.rotation.schedule !== undefined) return undefined;
  return spec.rotation.interval ?? DEFAULT_ROTATION_INTERVAL;
}
