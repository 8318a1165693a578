// Who may call the agent: a client certificate that chains to the operator CA bundle (checked
// by the TLS handshake itself) AND carries the operator's URI SAN AND is meant for client
// authentication. A subject CN proves nothing (any workload with a certificate from the same
// CA, a shared cluster CA say, can pick its CN); such callers get 403. The one exception is
// POST /v1/sessions(/stream), which only peer agents may call (checkPeerCertificate here, then
// SessionSharer.authorizePeer against the operator's peer list); the operator may not.
import type { TLSSocket } from 'node:tls';
import { ApiError } from './api-error.ts';
import { CLIENT_AUTH_EKU, uriSans } from './identity.ts';

/** Returns the refusal for this connection, or null when the caller is the operator. */
export function checkClientIdentity(socket: TLSSocket, identity: string): ApiError | null {
  // requestCert + rejectUnauthorized already fail the handshake; this guards the invariant.
  if (!socket.authorized) return new ApiError(401, 'unauthenticated', 'a client certificate signed by the operator CA is required');
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return new ApiError(401, 'unauthenticated', 'a client certificate is required');
  if (!uriSans(cert.subjectaltname).includes(identity)) return new ApiError(403, 'forbidden', 'the client certificate does not carry the operator identity (URI SAN)');
  if (!(cert.ext_key_usage ?? []).includes(CLIENT_AUTH_EKU)) return new ApiError(403, 'forbidden', 'the client certificate is not for client authentication');
  return null;
}

/**
 * POST /v1/sessions(/stream): a chained client certificate meant for client authentication. Returns its
 * URI SANs (the caller then must be a peer of the current configuration), or throws the refusal.
 */
export function checkPeerCertificate(socket: TLSSocket): string[] {
  if (!socket.authorized) throw new ApiError(401, 'unauthenticated', 'a client certificate signed by the agents\' CA is required');
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) throw new ApiError(401, 'unauthenticated', 'a client certificate is required');
  if (!(cert.ext_key_usage ?? []).includes(CLIENT_AUTH_EKU)) throw new ApiError(403, 'forbidden', 'the client certificate is not for client authentication');
  return uriSans(cert.subjectaltname);
}
