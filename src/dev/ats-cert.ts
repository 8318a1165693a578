// A self-signed serving certificate for a dev ATS instance, made with the openssl CLI
// (dev/test helper only; the operator's own certificates come from `tko dev certs`).
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SelfSignedCert {
  certPath: string;
  keyPath: string;
  /** PEM of the certificate: clients pass it as their CA to verify the instance. */
  certPem: string;
}

/** cert.pem + key.pem in dir, valid 2 days for `addr` (IP SAN) and localhost. */
export async function createSelfSignedCert(dir: string, addr: string): Promise<SelfSignedCert> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '2',
    '-subj',
    `/CN=${addr}`,
    '-addext',
    `subjectAltName=IP:${addr},DNS:localhost`,
  ]);
  return { certPath, keyPath, certPem: await readFile(certPath, 'utf8') };
}
