// The pods' bridge. Made by us (not the CNI plugin) so the node address is on it before kubelet
// starts; its alias names the state dir that owns it, so a second cluster on the machine, or a
// clean-up, can tell whose it is.
import { spawnSync } from 'node:child_process';
import { BRIDGE, NODE_IP, POD_SUBNET } from './layout.ts';

function ip(args: string[], allowFail = false): string {
  const out = spawnSync('ip', args, { encoding: 'utf8' });
  if (out.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')} failed: ${out.stderr.trim()}`);
  return out.status === 0 ? out.stdout : '';
}

interface LinkInfo {
  ifname: string;
  ifalias?: string;
}

/** The state dir recorded on the bridge, '' if it has none, undefined if there is no bridge. */
export function bridgeOwner(): string | undefined {
  const text = ip(['-j', '-d', 'link', 'show', 'dev', BRIDGE], true);
  if (!text) return undefined;
  const [link] = JSON.parse(text) as LinkInfo[];
  return link?.ifalias?.replace(/^tko-cluster:/, '') ?? '';
}

export function createBridge(owner: string): void {
  ip(['link', 'add', BRIDGE, 'type', 'bridge']);
  ip(['link', 'set', 'dev', BRIDGE, 'alias', `tko-cluster:${owner}`]);
  ip(['addr', 'add', `${NODE_IP}/${POD_SUBNET.split('/')[1]}`, 'dev', BRIDGE]);
  ip(['link', 'set', 'dev', BRIDGE, 'up']);
}

/** Deletes every veth still enslaved to the bridge (its peer goes with it), then the bridge. */
export function deleteBridge(): void {
  const text = ip(['-j', 'link', 'show', 'master', BRIDGE], true);
  for (const link of text ? (JSON.parse(text) as LinkInfo[]) : []) ip(['link', 'del', 'dev', link.ifname], true);
  ip(['link', 'del', 'dev', BRIDGE], true);
}
