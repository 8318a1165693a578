// Builds ticketkeys_bridge.so with ATS's `tsxs` into a cache directory outside the repo,
// keyed by the hash of the source and its generated contract header (contract-header.ts), so tests and `tko dev ats` share one build and the .so is never
// committed. `npm run plugin:build` prints the path.
//
//   ensurePluginBuilt(): Promise<string>   absolute path of the .so (builds when missing)
//
// Cache dir: $TKO_PLUGIN_CACHE or ~/.cache/ticket-key-operator/plugin/<sha256-16>/
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, copyFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PLUGIN_FILE = 'ticketkeys_bridge.so';
const SOURCE_FILE = 'ticketkeys_bridge.c';
const HERE = dirname(fileURLToPath(import.meta.url));
/** What the build reads: the source and the header it includes (src/ats-plugin/contract-header.ts). */
const INPUT_FILES = [SOURCE_FILE, 'ticketkeys_contract.h'];

function cacheRoot(): string {
  return process.env.TKO_PLUGIN_CACHE ?? join(homedir(), '.cache', 'ticket-key-operator', 'plugin');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

let pending: Promise<string> | undefined;

/** Absolute path of the built plugin; builds it once per source version. */
export function ensurePluginBuilt(): Promise<string> {
  pending ??= build().finally(() => {
    pending = undefined;
  });
  return pending;
}

async function build(): Promise<string> {
  const digest = createHash('sha256');
  for (const file of INPUT_FILES) digest.update(await readFile(join(HERE, file)));
  const hash = digest.digest('hex').slice(0, 16);
  const dir = join(cacheRoot(), hash);
  const target = join(dir, PLUGIN_FILE);
  if (await exists(target)) return target;

  await mkdir(dir, { recursive: true });
  // Build in a private temp dir (tsxs writes its .lo next to the source), then rename into
  // place atomically so parallel builders never see a half-written .so.
  const work = await mkdtemp(join(dir, 'build-'));
  try {
    for (const file of INPUT_FILES) await copyFile(join(HERE, file), join(work, file));
    try {
      await run('tsxs', ['-o', PLUGIN_FILE, '-c', SOURCE_FILE], { cwd: work });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: string };
      if (e.code === 'ENOENT') throw new Error('tsxs not found: install trafficserver-dev', { cause: err });
      throw new Error(`tsxs failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
    }
    await rename(join(work, PLUGIN_FILE), target);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return target;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await ensurePluginBuilt());
}
