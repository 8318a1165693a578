// Command lines of kubelet, kube-controller-manager and kube-scheduler. Each names paths under
// the state dir, which is how their processes are recognised later.
import { join } from 'node:path';
import { NODE_IP, NODE_NAME } from './layout.ts';
import type { Layout } from './layout.ts';

export function kubeletArgs(l: Layout): string[] {
  return [
    `--config=${l.kubeletConfig}`,
    `--kubeconfig=${join(l.kubeconfigs, 'kubelet.kubeconfig')}`,
    `--root-dir=${l.kubeletRoot}`,
    `--cert-dir=${join(l.kubeletRoot, 'pki')}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NODE_IP}`,
    '--v=1',
  ];
}

export function controllerManagerArgs(l: Layout): string[] {
  const pki = (name: string): string => join(l.controlPlane, 'pki', name);
  return [
    `--kubeconfig=${join(l.kubeconfigs, 'controller-manager.kubeconfig')}`,
    // Mints service-account tokens with the key the API server verifies them with.
    `--service-account-private-key-file=${pki('sa.key')}`,
    `--root-ca-file=${pki('ca.crt')}`,
    // Each controller acts as its own service account, with the bootstrap RBAC roles made for it.
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    // The CNI config has a fixed pod subnet; the node needs no podCIDR.
    '--allocate-node-cidrs=false',
    '--cluster-name=tko',
    '--controllers=*,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller,-bootstrap-signer-controller,-token-cleaner-controller',
    // No serving port: nothing scrapes it, and it keeps the cluster off shared ports.
    '--secure-port=0',
    '--v=1',
  ];
}

export function schedulerArgs(l: Layout): string[] {
  return [
    `--kubeconfig=${join(l.kubeconfigs, 'scheduler.kubeconfig')}`,
    `--authentication-kubeconfig=${join(l.kubeconfigs, 'scheduler.kubeconfig')}`,
    `--authorization-kubeconfig=${join(l.kubeconfigs, 'scheduler.kubeconfig')}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0',
    '--v=1',
  ];
}
