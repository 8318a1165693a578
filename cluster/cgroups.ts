// kubelet's cgroup root in each v1 hierarchy. We create it (kubelet insists that it exists),
// kill whatever is still inside at a forced clean-up, and remove it when the cluster goes.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ROOT } from './layout.ts';

const CGROUP_FS = '/sys/fs/cgroup';

function hierarchies(): string[] {
  return readdirSync(CGROUP_FS)
    .map((name) => join(CGROUP_FS, name))
    .filter((path) => {
      try {
        return statSync(path).isDirectory() && existsSync(join(path, 'cgroup.procs'));
      } catch {
        return false;
      }
    });
}

export function createCgroupRoot(): void {
  for (const hierarchy of hierarchies()) {
    const dir = join(hierarchy, CGROUP_ROOT);
    mkdirSync(dir, { recursive: true });
    // A new v1 cpuset group starts with no CPUs and no memory nodes; copy the parent's.
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (existsSync(join(hierarchy, file))) writeFileSync(join(dir, file), readFileSync(join(hierarchy, file)));
    }
  }
}

/** Every directory of our cgroup tree, deepest first. */
function tree(): string[] {
  const dirs: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
    dirs.push(dir);
  };
  for (const hierarchy of hierarchies()) if (existsSync(join(hierarchy, CGROUP_ROOT))) walk(join(hierarchy, CGROUP_ROOT));
  return dirs;
}

/** Pids of every process in our cgroup tree (container processes a dead runtime left running). */
export function cgroupPids(): number[] {
  const pids = new Set<number>();
  for (const dir of tree()) {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.add(Number(line));
    } catch {
      // Gone meanwhile.
    }
  }
  return [...pids];
}

/** Removes the tree (empty cgroups only; returns what could not be removed). */
export function removeCgroupRoot(): string[] {
  const left: string[] = [];
  for (const dir of tree()) {
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  }
  return left;
}

export function cgroupTreeExists(): boolean {
  return tree().length > 0;
}
