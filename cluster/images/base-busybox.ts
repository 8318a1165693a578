// docker.io/library/busybox:1.37 made locally from Debian's busybox-static (the machine's installed
// package; its version, not 1.37, is what runs): one static binary and a link per applet. The
// Dockerfile's ats-plugin target only needs `cp`.
import { copyFile, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Buildah } from './buildah.ts';
import type { BaseImage, BuildContext } from './base-image.ts';
import { run } from './run-command.ts';

export const BUSYBOX_REF = 'docker.io/library/busybox:1.37';
const BUSYBOX_BIN = '/bin/busybox';
const SCRIPT_VERSION = '1';

async function packageVersion(logFile: string): Promise<string> {
  try {
    return (await run('dpkg-query', ['-W', '-f', '${Version}', 'busybox-static'], { logFile })).stdout.trim();
  } catch {
    throw new Error('busybox-static is not installed (scripts/install-system-deps.sh installs it)');
  }
}

export const busyboxBase: BaseImage = {
  name: 'busybox',
  ref: BUSYBOX_REF,
  key: async (ctx) => `busybox-static:${await packageVersion(ctx.logFile)}:v${SCRIPT_VERSION}`,
  build: buildBusybox,
};

async function buildBusybox(b: Buildah, ctx: BuildContext): Promise<Record<string, string>> {
  const version = await packageVersion(ctx.logFile);
  const applets = (await run(BUSYBOX_BIN, ['--list'])).stdout.split('\n').filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  const ctr = (await b.run(['from', 'scratch'], { logFile: ctx.logFile })).stdout.trim();
  try {
    const mnt = await b.mount(ctr);
    for (const d of ['bin', 'tmp', 'etc']) await mkdir(join(mnt, d), { recursive: true });
    await copyFile(BUSYBOX_BIN, join(mnt, 'bin/busybox'));
    await run('chmod', ['0755', join(mnt, 'bin/busybox')]);
    for (const a of applets) await symlink('busybox', join(mnt, 'bin', a));
    await b.run(['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--cmd', 'sh', ctr]);
    await b.run(['commit', '--rm', ctr, BUSYBOX_REF], { logFile: ctx.logFile });
  } catch (err) {
    await b.remove(ctr);
    throw err;
  }
  return { busyboxStatic: version };
}
