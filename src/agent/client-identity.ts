// Who may call the agent: a client certificate that chains to the operator CA (checked by
// the TLS handshake itself) AND names the operator. Another workload holding a certificate
// from the same CA (a shared cluster CA, say) is refused with 403.
import type { TLSSocket } from 'node:tls';
import { ApiError } from './api-error.ts';

const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

/** Returns the refusal for this connection, or null when the caller is the operator. */
export function checkClientIdentity(socket: TLSSocket, identity: string): ApiError | null {
  // requestCert + rejectUnauthorized already fail the handshake; this guards the invariant.
  if (!socket.authorized) return new ApiError(401, 'unauthenticated', 'a client certificate signed by the operator CA is required');
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return new ApiError(401, 'unauthenticated', 'a client certificate is required');
  const cn = cert.subject?.CN;
  if (cn !== identity) return new ApiError(403, 'forbidden', 'the client certificate does not carry the operator identity');
  const eku = cert.ext_key_usage;
  if (eku && !eku.includes(CLIENT_AUTH_EKU)) return new ApiError(403, 'forbidden', 'the client certificate is not for client authentication');
  return null;
}
