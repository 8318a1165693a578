// Imports OCI image archives into the cluster's containerd, in the namespace the CRI reads
// (k8s.io). The archive's reference must be fully qualified (docker.io/…): the CRI normalises
// names before looking them up.
import { run } from '../dev/testbed/tools.ts';
import { layout } from './layout.ts';

export async function importImageArchive(archive: string, stateDir?: string, log: (line: string) => void = () => {}): Promise<void> {
  const l = layout(stateDir);
  await run('ctr', ['--address', l.containerdSocket, '--namespace', 'k8s.io', 'images', 'import', archive], l.dir, process.env, log);
}
