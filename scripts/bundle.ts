// Bundles the `tko` CLI (operator, agent and every subcommand) into plain ES modules that need
// no node_modules: OUT_DIR/tko.mjs plus one chunk per lazily loaded part, so `tko agent` never
// loads the Kubernetes client. The image runs this bundle, and so do the benchmarks.
//
// Why: a process that imports @kubernetes/client-node from node_modules holds every generated
// API and model module, comments and all, as source text in its heap. Bundled and minified the
// operator starts with about 26 MB less V8 heap (issue 12: the operator's 200 MB RSS goal at
// 1,000 TicketKeySets). esbuild-wasm, not the native esbuild: no platform binary to pick
// among optional dependencies, which the image build omits.
//
//   node scripts/bundle.ts [OUT_DIR]      default dist/bundle
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild-wasm';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_BUNDLE_DIR = join(REPO, 'dist', 'bundle');

/** Bundles into outDir (emptied first) and returns the entry point, OUT_DIR/tko.mjs. */
export async function bundleTko(outDir: string = DEFAULT_BUNDLE_DIR): Promise<string> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    absWorkingDir: REPO,
    entryPoints: { tko: 'src/cli/main.ts' },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    // A package's ES module build where it has one: with code splitting, a lazily imported
    // CommonJS package would reach its importer with a default export only.
    mainFields: ['module', 'main'],
    minify: true,
    // Class and function names stay: errors are told apart by name in logs and messages.
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS dependencies (winston, commander, …) call require() for Node's built-ins.
    banner: { js: "import { createRequire as __tkoCreateRequire } from 'node:module'; const require = __tkoCreateRequire(import.meta.url);" },
  });
  if (result.errors.length > 0) throw new Error(`bundle failed: ${result.errors.map((e) => e.text).join('; ')}`);
  return join(outDir, 'tko.mjs');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const entry = await bundleTko(process.argv[2] ? resolve(process.argv[2]) : DEFAULT_BUNDLE_DIR);
  console.log(entry);
}
