// Benchmarks run `tko` as the image runs it: compiled JavaScript (tsc -p tsconfig.build.json, as
// the Dockerfile does), in a temp dir that resolves this repo's packages.
import { execFile } from 'node:child_process';
import { access, copyFile, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../dev/testbed/testbed.ts';

/** Compiles src/; `entry` is the compiled `tko` CLI, `dir` the temp dir to remove afterwards. */
export async function buildCompiledTko(log: (line: string) => void): Promise<{ entry: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tko-bench-build-'));
  await copyFile(join(REPO_ROOT, 'package.json'), join(dir, 'package.json')); // "type": "module"
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  const entry = join(dir, 'dist', 'src', 'cli', 'main.js');
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { cwd: REPO_ROOT });
  } catch (err) {
    // Type errors elsewhere in the tree still emit JavaScript; only a missing entry is fatal.
    await access(entry).catch(() => {
      throw err;
    });
    log('note: tsc reported errors; benchmarking the JavaScript it emitted');
  }
  return { entry, dir };
}
