// When the operator-managed agent PKI changes its CAs and re-issues certificates (pure: `now`
// passed in). A CA rotation never breaks a handshake: the next CA is first only trusted (added
// to every bundle the agents and the operator verify with), and signs only after `propagationMs`,
// the time a Secret change takes to reach every agent's files (kubelet sync plus the agent's
// reload); the old CA stays trusted until it expires, so certificates it issued keep working
// until they are re-issued.

export interface CaFacts {
  /** Subject key identifier (hex). */
  id: string;
  notBefore: number;
  notAfter: number;
}

export interface PkiState {
  signer: CaFacts;
  /** Trusted, not yet signing; since addedAt. */
  next?: CaFacts & { addedAt: number };
  /** Every CA in the trust bundle (signer and next included). */
  trusted: CaFacts[];
}

export interface PkiPolicy {
  caValidityMs: number;
  certValidityMs: number;
  propagationMs: number;
}

/** Renew at two thirds of a lifetime, as cert-manager's default does. */
export const RENEW_FRACTION = 2 / 3;

export function renewAt(notBefore: number, notAfter: number): number {
  return notBefore + Math.floor((notAfter - notBefore) * RENEW_FRACTION);
}

export type CaChange =
  /** No usable signer (none yet, or it expired while the operator was away): a new one signs at once. */
  | { kind: 'new-signer' }
  /** The signer is due: a next CA joins the trust bundle. */
  | { kind: 'add-next' }
  /** The next CA has been trusted long enough: it signs from now on. */
  | { kind: 'promote-next' }
  /** Expired CAs leave the bundle. */
  | { kind: 'drop-expired'; ids: string[] };

/** What to change now (at most one of new-signer/add-next/promote-next, maybe drop-expired). */
export function caChanges(state: PkiState | undefined, now: number, policy: PkiPolicy): CaChange[] {
  if (state === undefined || state.signer.notAfter <= now) return [{ kind: 'new-signer' }];
  const changes: CaChange[] = [];
  if (state.next !== undefined) {
    // A next CA must outlive the propagation, or promoting it gains nothing.
    if (now - state.next.addedAt >= policy.propagationMs && state.next.notAfter > now) changes.push({ kind: 'promote-next' });
  } else if (now >= renewAt(state.signer.notBefore, state.signer.notAfter)) {
    changes.push({ kind: 'add-next' });
  }
  const expired = state.trusted.filter((ca) => ca.notAfter <= now).map((ca) => ca.id);
  if (expired.length > 0) changes.push({ kind: 'drop-expired', ids: expired });
  return changes;
}

export interface IssuedFacts {
  notBefore: number;
  notAfter: number;
  /** Authority key identifier of the certificate. */
  issuerId: string | undefined;
  uris: string[];
}

export type ReissueReason = 'Missing' | 'OtherIssuer' | 'Renewal' | 'Expired' | 'WrongIdentity';

/** Why a certificate must be issued again now, or undefined when it is fine. */
export function reissueReason(cert: IssuedFacts | undefined, signerId: string, identity: string, now: number): ReissueReason | undefined {
  if (cert === undefined) return 'Missing';
  if (cert.notAfter <= now) return 'Expired';
  if (cert.uris.length !== 1 || cert.uris[0] !== identity) return 'WrongIdentity';
  if (cert.issuerId !== signerId) return 'OtherIssuer';
  if (now >= renewAt(cert.notBefore, cert.notAfter)) return 'Renewal';
  return undefined;
}
