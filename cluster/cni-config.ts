// Pod networking: the bridge plugin on our own bridge, host-local addresses from a private
// subnet. The network rule (docs/cluster.md): no masquerade and no default route, so a pod
// reaches only its own subnet, which holds the node's address on the bridge, and the API
// server's Service address (api-service.ts). The bridge and
// that address are made by us before kubelet starts (isGateway false), so the plugin never
// turns on IP forwarding for the whole machine.
import { API_SERVICE_IP } from './api-service.ts';
import { BRIDGE, NODE_IP, POD_SUBNET } from './layout.ts';
import type { Layout } from './layout.ts';

export const CNI_NETWORK = 'tko-pods';
export const CNI_CONF_FILE = '10-tko-pods.conflist';

export function cniConfig(l: Layout): string {
  const prefix = POD_SUBNET.replace(/\.0\/24$/, '');
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: false,
          isDefaultGateway: false,
          ipMasq: false,
          hairpinMode: false,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: POD_SUBNET, rangeStart: `${prefix}.10`, rangeEnd: `${prefix}.250` }]],
            // One route besides the subnet's own: the API server's Service address, via the node
            // (api-service.ts). Never a default route.
            routes: [{ dst: `${API_SERVICE_IP}/32`, gw: NODE_IP }],
            dataDir: l.cniIpamDir,
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}
