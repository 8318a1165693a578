// Benchmarks run `tko` as the image runs it: the bundle scripts/bundle.ts makes (the Dockerfile
// runs the same script), in a temp dir with no node_modules next to it.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleTko } from '../scripts/bundle.ts';

/** Bundles src/; `entry` is the bundled `tko` CLI, `dir` the temp dir to remove afterwards. */
export async function buildBundledTko(log: (line: string) => void): Promise<{ entry: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tko-bench-build-'));
  const started = Date.now();
  const entry = await bundleTko(join(dir, 'bundle'));
  log(`bundled tko in ${Date.now() - started} ms`);
  return { entry, dir };
}
