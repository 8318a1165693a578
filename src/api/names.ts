// Names of the TicketKeySet API: the one place where the group, kind, annotations, labels and
// derived object names are spelled. Operator, CLI, manifests and tests import them from here.

export const GROUP = 'ticketkeys.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;
export const KIND = 'TicketKeySet';
export const LIST_KIND = 'TicketKeySetList';
export const PLURAL = 'ticketkeysets';
export const SINGULAR = 'ticketkeyset';
export const SHORT = 'tks';
/** Name of the CustomResourceDefinition object (`<plural>.<group>`). */
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Every label and annotation this project owns starts with this prefix. */
export const LABEL_PREFIX = `${GROUP}/`;

/** A new value (any string, e.g. a timestamp) triggers exactly one rotation. */
export const ANNOTATION_ROTATE_NOW = `${LABEL_PREFIX}rotate-now`;
/** A new value triggers an emergency revoke: a fresh ring holding only a new key, forced on every pod. */
export const ANNOTATION_REVOKE = `${LABEL_PREFIX}revoke`;
/**
 * Flux's "reconcile now" request (`flux reconcile`, the notification receiver): a new value
 * triggers an immediate reconcile, never a rotation, acknowledged in status.lastHandledReconcileAt.
 */
export const ANNOTATION_FLUX_REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

/** Label on the owned Secret naming its TicketKeySet (lets informers select only owned Secrets). */
export const LABEL_TICKET_KEY_SET = `${LABEL_PREFIX}ticketkeyset`;

/** Label marking a pod that runs the agent; the operator's default pod watch selects only these. */
export const LABEL_AGENT_POD = `${LABEL_PREFIX}agent`;
/** Default of `tko operator --pod-label-selector`. */
export const DEFAULT_POD_LABEL_SELECTOR = `${LABEL_AGENT_POD}=true`;

/**
 * Pod condition type used as a readiness gate: pods that list it in `spec.readinessGates` become
 * Ready only after their agent acknowledged the current ring (the operator patches pods/status).
 */
export const READINESS_GATE_CONDITION_TYPE = `${LABEL_PREFIX}keys-installed`;

/** Status condition types of a TicketKeySet. */
export const CONDITION_READY = 'Ready';
export const CONDITION_PROGRESSING = 'Progressing';
export const CONDITION_DEGRADED = 'Degraded';
/** True while pods this set selects are left to an older TicketKeySet that selects them too. */
export const CONDITION_SELECTOR_CONFLICT = 'SelectorConflict';
/**
 * Whether ATS reloads of spec.atsConfig.configMapRef can replace or bypass the pushed keys; only
 * set when spec.atsConfig.configMapRef is (no condition otherwise).
 */
export const CONDITION_CONFIG_CONSISTENT = 'ConfigConsistent';
/** kstatus: True while the operator works towards Ready (a rotation under way, pods not converged yet). */
export const CONDITION_RECONCILING = 'Reconciling';
/** kstatus: True when the operator cannot make progress without a change by the user. */
export const CONDITION_STALLED = 'Stalled';
export const CONDITION_TYPES = [
  CONDITION_READY,
  CONDITION_PROGRESSING,
  CONDITION_DEGRADED,
  CONDITION_SELECTOR_CONFLICT,
  CONDITION_CONFIG_CONSISTENT,
  CONDITION_RECONCILING,
  CONDITION_STALLED,
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

// No finalizer on purpose: the only object the operator creates is the Secret, which carries an
// owner reference and is garbage-collected with its TicketKeySet. Keys already pushed to pods die
// with the ATS process or expire; a finalizer would only block deletion while the operator is down.

const SECRET_SUFFIX = '-ticket-keys';

/** Name of the operator-owned Secret that holds the key ring of TicketKeySet `name`. */
export function secretName(ticketKeySetName: string): string {
  return `${ticketKeySetName}${SECRET_SUFFIX}`;
}

/**
 * TicketKeySet names are limited to 63 characters (a DNS label) so that the name fits in label
 * values (LABEL_TICKET_KEY_SET) and the Secret name stays valid. The CRD enforces it with CEL.
 */
export const MAX_NAME_LENGTH = 63;
