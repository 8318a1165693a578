// The sandbox ("pause") image, built locally because no registry is reachable: busybox-static
// from Debian with its applets, whose default command stays alive and exits on SIGTERM. Tests
// also run busybox from it. Built with buildah into a throw-away vfs store, pushed to an OCI
// archive that containerd imports, cached by its inputs.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { run } from '../dev/testbed/tools.ts';
import { clusterCacheRoot } from './binaries.ts';

const BUSYBOX = '/bin/busybox';
/** PID 1 gets no default signal handlers, so the loop traps TERM itself. */
const COMMAND = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];
const RECIPE_VERSION = '1';

export interface LocalImage {
  /** Fully qualified reference, as the CRI looks it up (docker.io/…). */
  ref: string;
  archive: string;
}

function inputsHash(): string {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install busybox-static (scripts/install-system-deps.sh)`);
  return createHash('sha256').update(RECIPE_VERSION).update(JSON.stringify(COMMAND)).update(readFileSync(BUSYBOX)).digest('hex').slice(0, 12);
}

export function pauseImage(): LocalImage {
  const tag = inputsHash();
  return { ref: `docker.io/tko/pause:${tag}`, archive: join(clusterCacheRoot(), 'images', `pause-${tag}.oci.tar`) };
}

/** A root filesystem with /bin/busybox and a symlink per applet (so `sh`, `nc`, `httpd` exist). */
function writeRootfs(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const sub of ['tmp', 'proc', 'sys', 'dev', 'etc']) mkdirSync(join(dir, sub), { recursive: true });
  const list = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
  if (list.status !== 0) throw new Error(`${BUSYBOX} --list failed`);
  for (const applet of list.stdout.split('\n').filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox')) {
    symlinkSync('busybox', join(dir, 'bin', applet));
  }
}

export async function ensurePauseImage(log: (line: string) => void = () => {}): Promise<LocalImage> {
  const image = pauseImage();
  if (existsSync(image.archive)) return image;
  const work = join(clusterCacheRoot(), 'images', `build.partial-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  log(`cluster: building ${image.ref} …`);
  try {
    const rootfs = join(work, 'rootfs');
    writeRootfs(rootfs);
    copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    // A private, throw-away store: nothing touches the machine's own containers storage.
    const store = ['--root', join(work, 'store'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs'];
    const buildah = async (args: string[]): Promise<string> => {
      const out = spawnSync('buildah', [...store, ...args], { encoding: 'utf8' });
      if (out.status !== 0) throw new Error(`buildah ${args.join(' ')} failed: ${out.stderr.trim()}`);
      return out.stdout.trim();
    };
    const container = await buildah(['from', '--pull-never', 'scratch']);
    await buildah(['copy', container, rootfs, '/']);
    await buildah(['config', '--entrypoint', '[]', '--cmd', JSON.stringify(COMMAND), '--env', 'PATH=/bin', '--label', 'ticketkeys.dev/role=pause', container]);
    await buildah(['commit', '--rm', container, image.ref]);
    const partial = `${image.archive}.partial`;
    await run('buildah', [...store, 'push', image.ref, `oci-archive:${partial}:${image.ref}`], work, process.env, log);
    renameSync(partial, image.archive);
  } finally {
    // vfs layers are plain directories (no mounts), so removing the store is enough.
    rmSync(work, { recursive: true, force: true });
  }
  return image;
}
