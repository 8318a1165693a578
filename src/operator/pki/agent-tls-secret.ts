// The agents' serving certificates, one Secret per workload (namespace + ServiceAccount), of type
// kubernetes.io/tls: tls.crt/tls.key name spiffe://ticketkeys.dev/ns/<ns>/sa/<sa>, and ca.crt is
// the trust bundle the agent verifies the operator's client certificate with. ATS pods mount it
// (docs/agent.md) and the agent re-reads the files when kubelet updates them.
import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { AGENT_PKI_LABEL } from './ca-secret.ts';

export const AGENT_TLS_SECRET_PREFIX = 'ticketkeys-agent-';
export const AGENT_IDENTITY_ANNOTATION = 'ticketkeys.dev/agent-identity';

/** `ticketkeys-agent-<serviceAccount>`; a name too long for a Secret gets a digest instead. */
export function agentTlsSecretName(serviceAccount: string): string {
  const name = `${AGENT_TLS_SECRET_PREFIX}${serviceAccount}`;
  if (name.length <= 253) return name;
  return `${AGENT_TLS_SECRET_PREFIX}${serviceAccount.slice(0, 200)}-${createHash('sha256').update(serviceAccount).digest('hex').slice(0, 16)}`;
}

/** Ours to write: a Secret someone else made under that name is left alone. */
export function isManagedAgentTlsSecret(secret: V1Secret): boolean {
  return secret.metadata?.labels?.[AGENT_PKI_LABEL] === 'agent-tls';
}

export function agentTlsSecret(
  ref: { namespace: string; name: string },
  identity: string,
  material: { cert: string; key: string; bundle: string },
  base?: V1Secret,
): V1Secret {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      ...(base?.metadata ?? {}),
      name: ref.name,
      namespace: ref.namespace,
      labels: { ...(base?.metadata?.labels ?? {}), [AGENT_PKI_LABEL]: 'agent-tls', 'app.kubernetes.io/managed-by': 'ticket-key-operator' },
      annotations: { ...(base?.metadata?.annotations ?? {}), [AGENT_IDENTITY_ANNOTATION]: identity },
    },
    data: { 'tls.crt': b64(material.cert), 'tls.key': b64(material.key), 'ca.crt': b64(material.bundle) },
  };
}
