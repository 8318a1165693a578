// The identities the agent's mutual TLS rests on, as URI subject alternative names (SPIFFE IDs
// of the trust domain ticketkeys.dev). The operator's client certificate carries
// OPERATOR_IDENTITY; an agent's serving certificate names its pod, or its pod's workload (the
// service account). One module, imported by the operator, the agent and the dev certificates,
// so that builder and checker can never disagree. No dependencies: the CLI loads it for defaults.

export const TRUST_DOMAIN = 'ticketkeys.dev';
/** URI SAN the operator's client certificate must carry (the agent's --client-identity default). */
export const OPERATOR_IDENTITY = `spiffe://${TRUST_DOMAIN}/operator`;
/** Service account of a pod whose spec names none (what Kubernetes admission fills in). */
export const DEFAULT_SERVICE_ACCOUNT = 'default';

/** Whom an agent certificate speaks for: one pod, or every pod of a service account. */
export type AgentSubject = { namespace: string; pod: string } | { namespace: string; serviceAccount: string };

/** What the operator knows of the pod it dials (from the Pod object). */
export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  /** spec.serviceAccountName; DEFAULT_SERVICE_ACCOUNT when empty. */
  readonly serviceAccountName?: string | undefined;
}

// Kubernetes names: namespaces and service accounts are DNS labels or subdomains, pod names
// DNS subdomains. Nothing else may become a path segment ('/' would forge another identity).
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

function segment(kind: string, value: string): string {
  if (!NAME.test(value)) throw new Error(`invalid ${kind} ${JSON.stringify(value)} for an agent identity`);
  return value;
}

export function podIdentityUri(namespace: string, pod: string): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${segment('namespace', namespace)}/pod/${segment('pod name', pod)}`;
}

export function serviceAccountIdentityUri(namespace: string, serviceAccount: string): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${segment('namespace', namespace)}/sa/${segment('service account', serviceAccount)}`;
}

export function agentIdentityUri(subject: AgentSubject): string {
  return 'pod' in subject ? podIdentityUri(subject.namespace, subject.pod) : serviceAccountIdentityUri(subject.namespace, subject.serviceAccount);
}

/** The URI SANs an agent certificate may carry to speak for this pod: per pod, or per workload. */
export function acceptedAgentIdentities(pod: PodIdentity): [string, string] {
  return [podIdentityUri(pod.namespace, pod.name), serviceAccountIdentityUri(pod.namespace, pod.serviceAccountName || DEFAULT_SERVICE_ACCOUNT)];
}

const AGENT_URI = new RegExp(`^spiffe://${TRUST_DOMAIN.replace('.', '\\.')}/ns/([^/]+)/(pod|sa)/([^/]+)$`);

/** The subject an agent identity URI names, or undefined when it is not one. */
export function parseAgentIdentity(uri: string): AgentSubject | undefined {
  const m = AGENT_URI.exec(uri);
  if (!m || !NAME.test(m[1]!) || !NAME.test(m[3]!)) return undefined;
  return m[2] === 'pod' ? { namespace: m[1]!, pod: m[3]! } : { namespace: m[1]!, serviceAccount: m[3]! };
}

/**
 * The URI SANs of a certificate, from node's `subjectaltname` string ("DNS:a, URI:spiffe://…";
 * node quotes a value holding a comma or quote as a JSON string).
 */
export function uriSans(subjectAltName: string | undefined): string[] {
  const out: string[] = [];
  for (const m of (subjectAltName ?? '').matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[1]!;
    try {
      out.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
    } catch {
      // an unparsable quoted value names nobody
    }
  }
  return out;
}

/** Extended key usage OIDs, as node reports them in `ext_key_usage`. */
export const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
export const SERVER_AUTH_EKU = '1.3.6.1.5.5.7.3.1';
