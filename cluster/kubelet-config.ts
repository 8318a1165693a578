// kubelet's KubeletConfiguration for this machine: cgroup v1 with the cgroupfs driver, swap
// tolerated, everything it writes under the state dir, API requests authenticated by client
// certificate or webhook and authorised by the API server, and no iptables chains of its own.
import { stringify } from 'yaml';
import { CGROUP_ROOT, KUBELET_PORT, NODE_IP } from './layout.ts';
import type { Layout } from './layout.ts';

export function kubeletConfig(l: Layout, clientCaFile: string): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzPort: 0,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: clientCaFile },
    },
    authorization: { mode: 'Webhook' },
    // The hierarchy is v1 (hybrid) here; kubelet 1.36 refuses it unless told otherwise.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${CGROUP_ROOT}`,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${l.containerdSocket}`,
    podLogsDir: l.podLogs,
    // Without CoreDNS there is no cluster DNS; pods get an empty resolv.conf.
    resolvConf: '',
    // kubelet's KUBE-FIREWALL chains would be machine-wide rules left for someone to clean.
    makeIPTablesUtilChains: false,
    // Images exist only locally (no registry): never garbage-collect or evict them.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    // A shared CI machine: a busy disk must not taint the node.
    protectKernelDefaults: false,
    serializeImagePulls: false,
    maxPods: 110,
    nodeStatusReportFrequency: '10s',
    syncFrequency: '10s',
  });
}
