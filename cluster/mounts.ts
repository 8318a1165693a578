// Mounts under the state dir (overlay root filesystems, sandbox /dev/shm, kubelet volumes,
// pod network namespaces, kubelet's own bind mount of its root dir), found in mountinfo and
// unmounted deepest first.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Mount points under prefix (which ends with '/'), deepest first. */
export function mountsUnder(prefix: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p.startsWith(prefix) || `${p}/` === prefix);
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything under prefix; lazily, so a busy mount still leaves the namespace. */
export function unmountUnder(prefix: string): string[] {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(prefix);
    if (points.length === 0) return [];
    for (const point of points) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  }
  return mountsUnder(prefix);
}
