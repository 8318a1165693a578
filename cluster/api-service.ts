// How pods reach the API server without kube-proxy: in-cluster clients (the operator) dial the
// `kubernetes` Service, KUBERNETES_SERVICE_HOST:443 = 10.96.0.1:443. The CNI config gives pods a
// route to that one address via the node (not a default route), and one DNAT rule on our bridge
// sends it to the API server on the node's loopback (route_localnet lets the kernel deliver
// 127.0.0.1 arriving on the bridge). No masquerade; the rule and the sysctl go with `down`.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { BRIDGE } from './layout.ts';

/** The first address of the API server's --service-cluster-ip-range (the `kubernetes` Service). */
export const API_SERVICE_IP = '10.96.0.1';
export const API_SERVICE_PORT = 443;
const COMMENT = 'tko-cluster-apiserver';

function ruleSpec(apiserverPort: number): string[] {
  return ['PREROUTING', '-i', BRIDGE, '-d', `${API_SERVICE_IP}/32`, '-p', 'tcp', '--dport', String(API_SERVICE_PORT), '-m', 'comment', '--comment', COMMENT, '-j', 'DNAT', '--to-destination', `127.0.0.1:${apiserverPort}`];
}

function iptables(args: string[], allowFail = false): string {
  const out = spawnSync('iptables', ['-w', '5', '-t', 'nat', ...args], { encoding: 'utf8' });
  if (out.status !== 0 && !allowFail) throw new Error(`iptables -t nat ${args.join(' ')} failed: ${out.stderr.trim()}`);
  return out.status === 0 ? out.stdout : '';
}

export function exposeApiServerToPods(apiserverPort: number): void {
  writeFileSync(`/proc/sys/net/ipv4/conf/${BRIDGE}/route_localnet`, '1\n');
  iptables(['-A', ...ruleSpec(apiserverPort)]);
}

/** Our DNAT rules, as `iptables -S` lines (whatever port they name). */
export function apiServiceRules(): string[] {
  return iptables(['-S', 'PREROUTING'], true)
    .split('\n')
    .filter((line) => line.includes(`--comment ${COMMENT}`));
}

export function removeApiServiceRules(): void {
  for (const line of apiServiceRules()) {
    // `-A PREROUTING …` as listed; delete exactly that rule.
    const args = line.replace(/^-A /, '').match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
    iptables(['-D', ...args.map((a) => a.replace(/^"|"$/g, ''))], true);
  }
}
