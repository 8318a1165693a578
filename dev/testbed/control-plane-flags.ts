// Command-line flags of the test bed's etcd and kube-apiserver. Every path points into the
// test bed directory, which is also how its processes are recognised later.
import { join } from 'node:path';

export function etcdArgs(dir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=testbed',
    `--data-dir=${join(dir, 'etcd-data')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=testbed=${peer}`,
    '--initial-cluster-state=new',
    // A throwaway store: durability buys nothing and fsync costs seconds on a busy disk.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

export function apiserverArgs(dir: string, port: number, etcdUrl: string): string[] {
  const pki = (name: string): string => join(dir, 'pki', name);
  return [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${pki('apiserver.crt')}`,
    `--tls-private-key-file=${pki('apiserver.key')}`,
    `--client-ca-file=${pki('client-ca.crt')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki('sa.pub')}`,
    `--service-account-signing-key-file=${pki('sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=Node,RBAC',
    // The default endpoint reconciler would publish 127.0.0.1 as the `kubernetes` service
    // endpoint, which endpoint validation rejects; nothing here routes to it anyway.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
    '--v=1',
  ];
}
