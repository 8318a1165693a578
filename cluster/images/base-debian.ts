// docker.io/library/debian:bookworm-slim made locally: debootstrap's minbase from the machine's own
// apt mirror, trimmed the way the official slim image is (no docs, man pages, locales, apt lists),
// committed from `buildah from scratch` under the exact name the Dockerfile's FROM lines use.
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { aptSourceFiles, debianMirror } from './apt-mirror.ts';
import type { Buildah } from './buildah.ts';
import type { BaseImage, BuildContext } from './base-image.ts';
import { run } from './run-command.ts';

export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_REF = 'docker.io/library/debian:bookworm-slim';
/** Bump when the steps below change what ends up in the image. */
const SCRIPT_VERSION = '1';

// Like the official slim image: later `apt-get install`s in the Dockerfile stay small too.
const DPKG_EXCLUDES = [
  'path-exclude /usr/share/doc/*',
  'path-include /usr/share/doc/*/copyright',
  'path-exclude /usr/share/man/*',
  'path-exclude /usr/share/info/*',
  'path-exclude /usr/share/groff/*',
  'path-exclude /usr/share/lintian/*',
  'path-exclude /usr/share/locale/*',
  '',
].join('\n');

export const debianBase: BaseImage = {
  name: 'debian',
  ref: DEBIAN_REF,
  key: () => Promise.resolve(`debian:${DEBIAN_SUITE}:minbase:slim:v${SCRIPT_VERSION}`),
  build: buildDebian,
};

async function buildDebian(b: Buildah, ctx: BuildContext): Promise<Record<string, string>> {
  const mirror = await debianMirror(DEBIAN_SUITE);
  const rootfs = join(b.paths.work, 'debian-rootfs');
  await rm(rootfs, { recursive: true, force: true });
  await mkdir(rootfs, { recursive: true });
  await run('debootstrap', ['--variant=minbase', DEBIAN_SUITE, rootfs, mirror], { logFile: ctx.logFile });
  await slim(rootfs);
  const ctr = (await b.run(['from', 'scratch'], { logFile: ctx.logFile })).stdout.trim();
  try {
    const mnt = await b.mount(ctr);
    await run('cp', ['-a', `${rootfs}/.`, `${mnt}/`], { logFile: ctx.logFile });
    await b.run(['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--cmd', 'bash', ctr]);
    await b.run(['commit', '--rm', ctr, DEBIAN_REF], { logFile: ctx.logFile });
  } catch (err) {
    await b.remove(ctr);
    throw err;
  }
  await rm(rootfs, { recursive: true, force: true });
  return {};
}

/** Trims the tree and replaces host-specific files (resolv.conf, hostname) debootstrap copied in. */
async function slim(root: string): Promise<void> {
  await writeFile(join(root, 'etc/dpkg/dpkg.cfg.d/slim-excludes'), DPKG_EXCLUDES);
  // No service starts inside image builds (trafficserver's postinst would try).
  await writeFile(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  await writeFile(join(root, 'etc/apt/apt.conf.d/docker-clean'), 'Binary::apt::APT::Keep-Downloaded-Packages "false";\n');
  // The container's apt uses the same sources as the machine (updates and security included), so
  // packages installed in the Dockerfile match the host's ATS build.
  await rm(join(root, 'etc/apt/sources.list'), { force: true });
  for (const f of await aptSourceFiles()) await copyFile(f, join(root, 'etc/apt/sources.list.d', basename(f)));
  for (const f of ['etc/resolv.conf', 'etc/hostname']) await rm(join(root, f), { force: true });
  await writeFile(join(root, 'etc/hostname'), 'localhost\n');
  const emptyDirs = ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'var/lib/apt/lists', 'var/cache/apt', 'var/log', 'tmp'];
  for (const d of emptyDirs) {
    const dir = join(root, d);
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      // Keep copyright files, the lists' lock/partial skeleton and apt's archives dir.
      if (d === 'usr/share/doc') {
        await keepCopyrightOnly(join(dir, n));
        continue;
      }
      if (d === 'var/cache/apt' && n === 'archives') continue;
      await rm(join(dir, n), { recursive: true, force: true });
    }
  }
  await mkdir(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  await mkdir(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  for (const n of await readdir(join(root, 'var/cache/apt/archives'))) {
    if (n.endsWith('.deb')) await rm(join(root, 'var/cache/apt/archives', n));
  }
}

async function keepCopyrightOnly(pkgDir: string): Promise<void> {
  for (const n of await readdir(pkgDir).catch(() => [] as string[])) {
    if (n !== 'copyright') await rm(join(pkgDir, n), { recursive: true, force: true });
  }
}
