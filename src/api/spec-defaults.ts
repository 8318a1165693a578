// The spec as the operator sees it after the API server applied the schema defaults. Specs built
// in memory (tests, CLI) get the same defaults from the same schema via TypeBox's Value.Default.
import { Value } from '@sinclair/typebox/value';
import { TicketKeySetSpecSchema } from './spec.ts';
import type { TicketKeySetSpec } from './spec.ts';

type Spec = TicketKeySetSpec;

/** Every defaulted field present; atsConfig and ticketLifetime stay optional (they have no default). */
export type DefaultedTicketKeySetSpec = Omit<Spec, 'rotation' | 'promotion' | 'agent' | 'sessionCache' | 'availability' | 'fileFallback'> & {
  availability: Required<NonNullable<Spec['availability']>>;
  rotation: Required<NonNullable<Spec['rotation']>>;
  promotion: Required<NonNullable<Spec['promotion']>>;
  agent: Required<NonNullable<Spec['agent']>>;
  sessionCache: Required<NonNullable<Spec['sessionCache']>>;
  fileFallback: Required<NonNullable<Spec['fileFallback']>>;
};

/** A copy of `spec` with the schema's defaults filled in (the input is not modified). */
export function withSpecDefaults(spec: Spec): DefaultedTicketKeySetSpec {
  return Value.Default(TicketKeySetSpecSchema, structuredClone(spec)) as DefaultedTicketKeySetSpec;
}

/** ticketLifetime, or rotation.interval when unset (the documented meaning of "unset"). */
export function effectiveTicketLifetime(spec: DefaultedTicketKeySetSpec): string {
  return spec.ticketLifetime ?? spec.rotation.interval;
}
