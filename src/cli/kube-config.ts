// The kubeconfig and namespace a `tko` client command acts on, as kubectl picks them:
// --kubeconfig, else KUBECONFIG / ~/.kube/config / in-cluster; -n, else the context's namespace.
import type { KubeConfig } from '@kubernetes/client-node';

export async function clientKubeConfig(flags: { kubeconfig?: string | undefined; namespace?: string | undefined }): Promise<{ kc: KubeConfig; namespace: string }> {
  // Loaded on use: commands that never talk to the API server start without client-node.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();
  const namespace = flags.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return { kc, namespace };
}
