// Names of the labels, annotations and conditions the operator reads and writes. The API's
// names come from src/api/names.ts (the one place they are spelled); the managed-by label,
// which only the operator's informers use, is defined here.
import { ANNOTATION_REVOKE, ANNOTATION_ROTATE_NOW, LABEL_TICKET_KEY_SET, READINESS_GATE_CONDITION_TYPE } from '../api/names.ts';

/** Label on every object the operator creates (Secrets); the Secret informer watches only these. */
export const MANAGED_BY_LABEL = 'ticketkeys.dev/managed-by';
export const MANAGED_BY_VALUE = 'ticket-key-operator';
/** Label selector string matching the operator's own objects. */
export const MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** Label on an operator-owned Secret naming its TicketKeySet (owner references stay authoritative). */
export const TICKETKEYSET_NAME_LABEL = LABEL_TICKET_KEY_SET;

/** A new value on a TicketKeySet triggers one rotation (set by `tko rotate`). */
export const ROTATE_NOW_ANNOTATION = ANNOTATION_ROTATE_NOW;
/** A new value on a TicketKeySet triggers an emergency revoke (set by `tko revoke`). */
export const REVOKE_ANNOTATION = ANNOTATION_REVOKE;

/** Pod condition (and readiness gate) set True once the pod's agent holds the current ring. */
export const KEYS_INSTALLED_CONDITION = READINESS_GATE_CONDITION_TYPE;

/** reportingController of the Events the operator emits. */
export const REPORTING_CONTROLLER = 'ticketkeys.dev/operator';
