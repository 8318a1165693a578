// agentTLS.mode certManager: cert-manager issues the agents' mutual TLS instead of the operator's
// own PKI. The chart asks for the operator's client certificate (into agentTLS.secretName, which
// the operator then reads as in mode secret) and one serving certificate per listed workload of
// ATS pods (into ticketkeys-agent-<serviceAccount>, the name examples/ats.yaml mounts), from
// agentTLS.certManager.issuerRef (a ClusterIssuer, since the workloads live in other namespaces),
// or from a CA the chart bootstraps: a self-signed ClusterIssuer signs a CA Certificate in
// cert-manager's cluster resource namespace, and a CA ClusterIssuer issues from it.
import type { Construct } from 'constructs';
import { OPERATOR_IDENTITY, TRUST_DOMAIN } from '../agent/identity.ts';
import { AGENT_TLS_SECRET_PREFIX } from '../operator/pki/agent-tls-secret.ts';
import { FULLNAME, LABELS } from './chart-meta.ts';
import { valuesRef } from './chart-values.ts';
import { helmBlock, helmInline, helmValue } from './helm.ts';
import { TemplatedObject } from './templated-object.ts';

const v = valuesRef;
const CERT_MANAGER = 'cert-manager.io/v1';
const namespace = helmInline('$.Release.Namespace');
const selfSignedIssuer = helmInline(`printf "%s-selfsigned" (${FULLNAME})`);
const caIssuer = helmInline(`printf "%s-agent-ca" (${FULLNAME})`);
const caSecret = helmInline(`printf "%s-agent-ca" (${FULLNAME})`);
/** A ClusterIssuer of type CA reads its Secret from cert-manager's cluster resource namespace. */
const clusterResourceNamespace = helmInline(v('agentTLS.certManager.clusterResourceNamespace'));

/** The issuer every certificate names: the user's, or the chart's CA ClusterIssuer. */
export const ISSUER_REF = `${v('agentTLS.certManager.issuerRef')} | default (dict "kind" "ClusterIssuer" "group" "cert-manager.io" "name" (printf "%s-agent-ca" (${FULLNAME}))) | toYaml`;
/** Rendered only when the user names no issuer. */
export const BOOTSTRAP_CONDITION = `not ${v('agentTLS.certManager.issuerRef')}`;

const privateKey = { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' };

/** Self-signed ClusterIssuer → CA Certificate → CA ClusterIssuer. */
export function certManagerBootstrap(scope: Construct): void {
  new TemplatedObject(scope, 'selfsigned', {
    apiVersion: CERT_MANAGER,
    kind: 'ClusterIssuer',
    metadata: { name: selfSignedIssuer, labels: helmBlock(LABELS) },
    spec: { selfSigned: {} },
  });
  new TemplatedObject(scope, 'ca', {
    apiVersion: CERT_MANAGER,
    kind: 'Certificate',
    metadata: { name: caSecret, namespace: clusterResourceNamespace, labels: helmBlock(LABELS) },
    spec: {
      isCA: true,
      commonName: 'ticket-key-operator agent CA',
      secretName: caSecret,
      duration: '8760h',
      renewBefore: '2920h',
      privateKey,
      issuerRef: { kind: 'ClusterIssuer', group: 'cert-manager.io', name: selfSignedIssuer },
    },
  });
  new TemplatedObject(scope, 'ca-issuer', {
    apiVersion: CERT_MANAGER,
    kind: 'ClusterIssuer',
    metadata: { name: caIssuer, labels: helmBlock(LABELS) },
    spec: { ca: { secretName: caSecret } },
  });
}

/** The operator's client certificate: URI SAN OPERATOR_IDENTITY, client auth. */
export function operatorCertificate(scope: Construct): void {
  new TemplatedObject(scope, 'operator', {
    apiVersion: CERT_MANAGER,
    kind: 'Certificate',
    metadata: { name: helmInline(`printf "%s-agent-client" (${FULLNAME})`), namespace, labels: helmBlock(LABELS) },
    spec: {
      secretName: helmValue(`${v('agentTLS.secretName')} | quote`),
      uris: [OPERATOR_IDENTITY],
      usages: ['digital signature', 'client auth'],
      duration: helmValue(`${v('agentTLS.certManager.duration')} | quote`),
      renewBefore: helmValue(`${v('agentTLS.certManager.renewBefore')} | quote`),
      privateKey,
      issuerRef: helmBlock(ISSUER_REF),
    },
  });
}

/** One workload's serving certificate (inside a range over agentWorkloads as $w). */
export function agentCertificate(scope: Construct): void {
  new TemplatedObject(scope, 'agent', {
    apiVersion: CERT_MANAGER,
    kind: 'Certificate',
    metadata: { name: helmInline(`printf "${AGENT_TLS_SECRET_PREFIX}%s" $w.serviceAccount`), namespace: helmInline('$w.namespace'), labels: helmBlock(LABELS) },
    spec: {
      secretName: helmInline(`printf "${AGENT_TLS_SECRET_PREFIX}%s" $w.serviceAccount`),
      uris: [`spiffe://${TRUST_DOMAIN}/ns/${helmInline('$w.namespace')}/sa/${helmInline('$w.serviceAccount')}`],
      // server auth: the operator and peers dial it; client auth: it dials its peers (session sharing).
      usages: ['digital signature', 'server auth', 'client auth'],
      duration: helmValue(`${v('agentTLS.certManager.duration')} | quote`),
      renewBefore: helmValue(`${v('agentTLS.certManager.renewBefore')} | quote`),
      privateKey,
      issuerRef: helmBlock(ISSUER_REF),
    },
  });
}
