// `status`: which recorded processes run, whether the node is Ready, and the pods.
import { CoreV1Api } from '@kubernetes/client-node';
import { isRunning } from '../dev/testbed/processes.ts';
import { readState as readTestbedState } from '../dev/testbed/testbed.ts';
import { openCluster } from './cluster.ts';
import { layout, marker } from './layout.ts';
import { readClusterState } from './state.ts';

export async function clusterStatus(dir?: string): Promise<{ text: string; running: boolean }> {
  const l = layout(dir);
  const state = readClusterState(l);
  if (!state) return { text: `no cluster in ${l.dir}`, running: false };
  const lines = [`cluster in ${l.dir} (${state.kubernetesVersion}), API server ${state.server || '(not started)'}`, `kubeconfig: ${state.kubeconfig}`];
  const processes = [...(readTestbedState(l.controlPlane)?.processes ?? []), ...state.processes];
  let allUp = processes.length > 0;
  for (const p of processes) {
    const up = isRunning(p.pid, marker(l));
    allUp &&= up;
    lines.push(`  ${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${up ? 'running' : 'NOT RUNNING'}`);
  }
  try {
    const core = openCluster(dir).adminKubeConfig().makeApiClient(CoreV1Api);
    for (const node of (await core.listNode()).items) {
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      lines.push(`node ${node.metadata?.name}: ${ready ? 'Ready' : 'NotReady'}, kubelet ${node.status?.nodeInfo?.kubeletVersion}, ${node.status?.nodeInfo?.containerRuntimeVersion}`);
    }
    const pods = (await core.listPodForAllNamespaces()).items;
    lines.push(`pods: ${pods.length}`);
    for (const pod of pods) {
      lines.push(`  ${pod.metadata?.namespace}/${pod.metadata?.name} ${pod.status?.phase} ${pod.status?.podIP ?? ''}`.trimEnd());
    }
  } catch (err) {
    lines.push(`API: unreachable (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
    allUp = false;
  }
  return { text: lines.join('\n'), running: allUp };
}
