// The TicketKeySet API: names, schema (the one source of the CRD and of these types), defaults.
export * from './names.ts';
export * from './defaults.ts';
export * from './spec.ts';
export * from './status.ts';
export * from './condition.ts';
export * from './label-selector.ts';
export * from './ticket-key-set.ts';
export * from './spec-defaults.ts';
export * from './printer-columns.ts';
export { CEL_KEY, DURATION_PATTERN, DURATION_MAX_LENGTH } from './schema-kit.ts';
export type { CelRule } from './schema-kit.ts';
