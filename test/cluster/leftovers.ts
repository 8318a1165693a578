// Everything a stopped cluster might leave on the machine, checked from outside the cluster
// code: processes and mounts under its state dir, pod network namespaces, the bridge and its
// veths, the cgroup tree, iptables chains kubelet would add.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { BRIDGE, CGROUP_ROOT } from '../../cluster/layout.ts';
import type { Layout } from '../../cluster/layout.ts';
import { KUBELET_DEVICE_SOCKET, leftovers } from '../../cluster/teardown.ts';

export function hostLeftovers(l: Layout): string[] {
  const found = leftovers(l);
  if (spawnSync('ip', ['link', 'show', 'dev', BRIDGE], { stdio: 'ignore' }).status === 0) found.push(`link ${BRIDGE}`);
  const vethOnBridge = spawnSync('ip', ['-o', 'link', 'show', 'master', BRIDGE], { encoding: 'utf8' }).stdout.trim();
  if (vethOnBridge) found.push(`veths ${vethOnBridge}`);
  for (const netnsDir of ['/var/run/netns', '/run/netns']) {
    const names = existsSync(netnsDir) ? readdirSync(netnsDir).filter((n) => n.startsWith('cni-')) : [];
    if (names.length) found.push(`netns ${names.join(', ')} in ${netnsDir}`);
  }
  if (readdirSync('/sys/fs/cgroup').some((h) => existsSync(`/sys/fs/cgroup/${h}/${CGROUP_ROOT}`))) found.push(`cgroup /${CGROUP_ROOT}`);
  if (existsSync(KUBELET_DEVICE_SOCKET)) found.push(KUBELET_DEVICE_SOCKET);
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout ?? '';
  if (/KUBE-(FIREWALL|IPTABLES-HINT|KUBELET-CANARY)/.test(rules)) found.push('iptables KUBE-* chains');
  if (rules.includes('tko-cluster-apiserver')) found.push('iptables rule tko-cluster-apiserver');
  return found;
}
