// cluster.json: what `up` started beyond the control plane (whose own record is the test
// bed's testbed.json in control-plane/), so `down`, `status` and the reaper can find it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ProcessRecord } from '../dev/testbed/processes.ts';
import type { Layout } from './layout.ts';

export interface ClusterState {
  dir: string;
  server: string;
  kubeconfig: string;
  kubernetesVersion: string;
  pauseImage: string;
  kubectl: string;
  processes: ProcessRecord[];
}

export function readClusterState(l: Layout): ClusterState | undefined {
  if (!existsSync(l.stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(l.stateFile, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

export function writeClusterState(l: Layout, state: ClusterState): void {
  writeFileSync(l.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}
