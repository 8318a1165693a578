// `npm run synth`: writes crds/ and charts/ from the TypeScript sources. Replaces the generated
// directories wholesale, so a file that synth no longer produces disappears too.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED_DIRS, synthesizeFiles } from './app.ts';

export function synthesizeTo(root: string): string[] {
  const files = synthesizeFiles();
  for (const dir of GENERATED_DIRS) rmSync(join(root, dir), { recursive: true, force: true });
  for (const [path, content] of files) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  return [...files.keys()].sort();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  for (const path of synthesizeTo(root)) console.log(`wrote ${path}`);
}
