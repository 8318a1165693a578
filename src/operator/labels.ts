// Names only the operator uses. The API's labels, annotations and conditions are spelled once,
// in src/api/names.ts, and imported from there.

/** Label on every object the operator creates (Secrets); the Secret informer watches only these. */
export const MANAGED_BY_LABEL = 'ticketkeys.dev/managed-by';
export const MANAGED_BY_VALUE = 'ticket-key-operator';
/** Label selector string matching the operator's own objects. */
export const MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** reportingController of the Events the operator emits. */
export const REPORTING_CONTROLLER = 'ticketkeys.dev/operator';
