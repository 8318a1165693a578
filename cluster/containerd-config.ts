// The private containerd's config: its own root, state and socket under the state directory
// (so it never meets another containerd on the machine), the CRI settings this machine needs
// (see docs/cluster.md), the locally built sandbox image and our own CNI config directory.
import type { Layout } from './layout.ts';
import { join } from 'node:path';

const q = (s: string): string => JSON.stringify(s);

export function containerdConfig(l: Layout, sandboxImage: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${q(join(l.containerdDir, 'root'))}
state = ${q(join(l.containerdDir, 'state'))}
# Snapshotters that cannot work here only log errors at start.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = ${q(l.containerdSocket)}

[ttrpc]
  address = ${q(`${l.containerdSocket}.ttrpc`)}

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(l.containerdDir, 'opt'))}

[${cri}]
  sandbox_image = ${q(sandboxImage)}
  # No CAP_SYS_RESOURCE here: without this runc fails every sandbox (see CLUSTER-NOTES).
  restrict_oom_score_adj = true
  # Pod network namespaces live under our state dir, not /var/run/netns, so they are ours to find.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  Root = ${q(join(l.containerdDir, 'runc'))}
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = ${q(l.cniConfDir)}
  max_conf_num = 1
`;
}
