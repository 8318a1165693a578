// What each Event reason means to the Kubernetes Event (its `action` verb) and to the metrics:
// both keyed by the EventReason union of core/actions.ts, so a new reason that is not mapped
// here does not compile.
import type { EventReason } from '../../core/index.ts';
import type { RotationResult } from '../metrics.ts';

/** CamelCase verbs for events.k8s.io `action`. */
export type EventVerb = 'Create' | 'Stage' | 'Promote' | 'Retire' | 'Destroy' | 'Revoke' | 'Push' | 'Observe' | 'Load' | 'Reconcile';

/** The `action` of an Event, by its reason. */
export const EVENT_ACTIONS: Readonly<Record<EventReason, EventVerb>> = {
  KeyCreated: 'Create',
  KeyStaged: 'Stage',
  KeyPromoted: 'Promote',
  KeyRetired: 'Retire',
  KeyDestroyed: 'Destroy',
  KeysRevoked: 'Revoke',
  RevokeComplete: 'Revoke',
  RotationComplete: 'Promote',
  PromotionTimedOut: 'Promote',
  ConvergenceTimedOut: 'Push',
  DriftRepaired: 'Push',
  SecretRegenerated: 'Create',
  GenerationOutOfRange: 'Observe',
  SecretUnusable: 'Load',
  PolicyWarning: 'Observe',
  ConfigConsistent: 'Observe',
  ReloadDriftCorrected: 'Push',
  // ConfigConsistent turning False (or Unknown), by the condition's reason.
  RelativeTicketKeyFile: 'Reconcile',
  TicketKeyFileOverridesPushedKeys: 'Reconcile',
  ConfigMapNotFound: 'Reconcile',
  ConfigUnparseable: 'Reconcile',
  DestIpLinesUsePrivateKeys: 'Reconcile',
  TicketLifetimeHintExceedsRetention: 'Reconcile',
  SessionTicketsDisabled: 'Reconcile',
};

/** ticketkeys_rotations_total{result}: the reasons that end a rotation, and how. */
export const ROTATION_RESULTS: Readonly<Partial<Record<EventReason, RotationResult>>> = {
  RotationComplete: 'success',
  PromotionTimedOut: 'timeout',
};
