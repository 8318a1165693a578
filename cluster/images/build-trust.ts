// The Dockerfile's `npm ci` must reach the npm registry the way this machine does. RUN steps get
// a build-only home directory bind-mounted over /root (`bud --volume`): npm's download cache
// (kept between builds) and, where the machine trusts an extra CA for the registry
// (NODE_EXTRA_CA_CERTS, or npm's `cafile`), a copy of that bundle and a ~/.npmrc naming it.
// /root exists in every base image, so the mount leaves no placeholder in any layer (a mount at a
// new path would leave an empty file there, e.g. an empty CA bundle in the ATS image), nothing of
// the machine ends up in an image, and the Dockerfile stays as it is. Never the user's ~/.npmrc.
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './run-command.ts';

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

async function hostCaBundle(): Promise<string | undefined> {
  const fromEnv = process.env.NODE_EXTRA_CA_CERTS;
  if (fromEnv !== undefined && fromEnv !== '' && (await isFile(fromEnv))) return fromEnv;
  const cafile = await run('npm', ['config', 'get', 'cafile']).then((r) => r.stdout.trim(), () => '');
  if (cafile !== '' && cafile !== 'null' && cafile !== 'undefined' && (await isFile(cafile))) return cafile;
  return undefined;
}

/** `--volume` arguments for `buildah bud`. */
export async function buildVolumes(cacheDir: string): Promise<string[]> {
  const home = join(cacheDir, 'build-home');
  await mkdir(join(home, '.npm'), { recursive: true });
  const ca = await hostCaBundle();
  if (ca === undefined) {
    await rm(join(home, '.npmrc'), { force: true });
  } else {
    await copyFile(ca, join(home, 'build-ca.crt'));
    await writeFile(join(home, '.npmrc'), 'cafile=/root/build-ca.crt\n');
  }
  return ['--volume', `${home}:/root`];
}
