// Load: what one reconcile starts from. The spec (with its defaults) becomes the core's policy;
// the owned Secret becomes the rotation state, the source of truth. A Secret that is gone,
// unreadable or tampered with is a loss the core regenerates above (secret-loss.ts); one
// written in a format this operator does not read is left alone.
import {
  ANNOTATION_REVOKE,
  ANNOTATION_ROTATE_NOW,
  secretName,
  type DefaultedTicketKeySetSpec,
  type TicketKeySet,
} from '../../api/index.ts';
import { initialState, resolvePolicy, type RotationPolicy, type RotationState, type SecretFormatError } from '../../core/index.ts';
import type { Logger } from '../../observability/logger.ts';
import type { SecretMeta, SecretStore } from '../kube/secret-store.ts';
import type { ObjectRef } from '../runtime/object-key.ts';
import { secretCorrupt, secretMissing, secretTampered, type SecretLoss } from './secret-loss.ts';

/** The core's policy for a spec and the set's annotations; throws PolicyError for a spec it refuses. */
export function loadPolicy(spec: DefaultedTicketKeySetSpec, annotations: Readonly<Record<string, string>>, now: number): RotationPolicy {
  return resolvePolicy({
    interval: spec.rotation.interval,
    schedule: spec.rotation.schedule,
    timeZone: spec.rotation.timeZone,
    windows: spec.rotation.windows,
    startingDeadline: spec.rotation.startingDeadline,
    now,
    ticketLifetime: spec.ticketLifetime,
    promotionPolicy: spec.promotion.policy,
    promotionTimeout: spec.promotion.timeout,
    suspend: spec.rotation.suspend,
    flushOnRevoke: spec.sessionCache.flushOnRevoke,
    fileFallbackEnabled: spec.fileFallback.enabled,
    fileFallbackPropagationDelay: spec.fileFallback.propagationDelay,
    rotateNowToken: annotations[ANNOTATION_ROTATE_NOW],
    revokeToken: annotations[ANNOTATION_REVOKE],
  });
}

/** The owned Secret as last read or written: the persist port writes over `stored`. */
export interface OwnedSecret {
  readonly ref: ObjectRef;
  stored: SecretMeta | undefined;
}

export type LoadedSecret =
  | { readonly secret: OwnedSecret; readonly state: RotationState; readonly secretLoss: SecretLoss | undefined }
  /** Written by a newer operator (a rollback of the operator): never overwrite it. */
  | { readonly unusable: SecretFormatError; readonly secret: OwnedSecret };

// ---- Secret → state (the persist port in execution-ports.ts writes it back) ----
export async function loadSecret(secrets: Pick<SecretStore, 'load'>, tks: TicketKeySet, log: Logger): Promise<LoadedSecret> {
  const ref = { namespace: tks.metadata.namespace ?? '', name: secretName(tks.metadata.name ?? '') };
  const loaded = await secrets.load(ref);
  const secret: OwnedSecret = { ref, stored: loaded?.stored };
  let state: RotationState = initialState();
  let secretLoss: SecretLoss | undefined;
  if (!loaded) {
    secretLoss = secretMissing(ref.name, tks.status);
  } else if ('error' in loaded) {
    if (loaded.error.code === 'unknown-version') return { unusable: loaded.error, secret };
    secretLoss = secretCorrupt(ref.name, loaded.error.message);
  } else {
    state = loaded.state;
    secretLoss = secretTampered(ref.name, state, tks.status);
    if (secretLoss) {
      // Bytes we cannot vouch for are never pushed: zero them, start a new ring above them.
      for (const k of state.keys) k.material.destroy();
      state = initialState();
    }
  }
  if (secretLoss) log.error('owned Secret lost; regenerating the ring', { secret: ref.name, reason: secretLoss.reason, detail: secretLoss.detail });
  return { secret, state, secretLoss };
}
