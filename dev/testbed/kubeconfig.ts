// Kubeconfigs for the test bed: one cluster (the loopback API server and the CA that signed its
// serving certificate) and one user authenticated by a client certificate.
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface KubeconfigParts {
  server: string;
  caPem: string;
  userName: string;
  certPem: string;
  keyPem: string;
}

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');

export function kubeconfigYaml(parts: KubeconfigParts): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'testbed', cluster: { server: parts.server, 'certificate-authority-data': b64(parts.caPem) } }],
    users: [{ name: parts.userName, user: { 'client-certificate-data': b64(parts.certPem), 'client-key-data': b64(parts.keyPem) } }],
    contexts: [{ name: 'testbed', context: { cluster: 'testbed', user: parts.userName, namespace: 'default' } }],
    'current-context': 'testbed',
  });
}

export function kubeConfigFrom(parts: KubeconfigParts): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(parts));
  return kc;
}
