// Short-lived development certificates for the agent's mutual TLS (docs/agent.md, trust model),
// generated at run time (never committed). The X.509 functions live in src/pki/x509.ts and are
// re-exported here: they are also the test kit for the refusals (a foreign CA, a wrong identity,
// another pod's certificate).
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentSubject } from '../agent/identity.ts';
import { createCa, issueAgentCert, issueOperatorCert, type CertAuthority, type PemPair } from '../pki/x509.ts';

export * from '../pki/x509.ts';
/** Whom createDevCerts' agent certificate speaks for unless told: the default workload of `default`. */
export const DEV_AGENT_SUBJECT: AgentSubject = { namespace: 'default', serviceAccount: 'default' };

export interface DevCerts {
  ca: CertAuthority;
  /** Client certificate with the operator identity (URI SAN OPERATOR_IDENTITY). */
  operator: PemPair;
  /** Serving certificate of the agent for `agent` (default DEV_AGENT_SUBJECT). */
  agent: PemPair;
}

export async function createDevCerts(options: { days?: number; agent?: AgentSubject } = {}): Promise<DevCerts> {
  const days = options.days ?? 1;
  const ca = await createCa({ days });
  const operator = await issueOperatorCert(ca, { days });
  const agent = await issueAgentCert(ca, options.agent ?? DEV_AGENT_SUBJECT, { days });
  return { ca, operator, agent };
}

/** File names written by writeDevCerts, as absolute paths. */
export interface DevCertFiles {
  caCert: string;
  caKey: string;
  operatorCert: string;
  operatorKey: string;
  agentCert: string;
  agentKey: string;
}

export function devCertFiles(dir: string): DevCertFiles {
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    operatorCert: join(dir, 'operator.crt'),
    operatorKey: join(dir, 'operator.key'),
    agentCert: join(dir, 'agent.crt'),
    agentKey: join(dir, 'agent.key'),
  };
}

async function writePem(path: string, pem: string, secret: boolean): Promise<void> {
  const mode = secret ? 0o600 : 0o644;
  await writeFile(path, pem, { mode });
  await chmod(path, mode); // writeFile's mode applies only when it creates the file.
}

export async function writeDevCerts(dir: string, certs: DevCerts): Promise<DevCertFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const f = devCertFiles(dir);
  await writePem(f.caCert, certs.ca.cert, false);
  await writePem(f.caKey, certs.ca.key, true);
  await writePem(f.operatorCert, certs.operator.cert, false);
  await writePem(f.operatorKey, certs.operator.key, true);
  await writePem(f.agentCert, certs.agent.cert, false);
  await writePem(f.agentKey, certs.agent.key, true);
  return f;
}
