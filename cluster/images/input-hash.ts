// Content hashes of build inputs: a warm machine with unchanged inputs reuses what it built, and
// any change to a file the image is made from forces a rebuild. Mirror host names never enter a key.
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every file the Dockerfile's stages read from the context, sorted by relative path. */
export async function dockerInputFiles(context: string, dockerfile: string): Promise<string[]> {
  const top = await readdir(context);
  const files = [dockerfile, join(context, 'package.json'), join(context, 'package-lock.json')];
  for (const n of top.sort()) if (/^tsconfig.*\.json$/.test(n)) files.push(join(context, n));
  if (await stat(join(context, 'src')).then((s) => s.isDirectory(), () => false)) files.push(...(await walk(join(context, 'src'))));
  // The bundler the build stage runs (COPY scripts/bundle.ts).
  const bundler = join(context, 'scripts', 'bundle.ts');
  if (await stat(bundler).then((s) => s.isFile(), () => false)) files.push(bundler);
  return files.sort((a, b) => relative(context, a).localeCompare(relative(context, b)));
}

/** sha256 over (path, content) of each file, plus extra strings (base image keys, versions). */
export async function hashInputs(root: string, files: string[], extra: string[] = []): Promise<string> {
  const h = createHash('sha256');
  for (const s of extra) h.update(`extra\0${s}\0`);
  for (const f of files) {
    const body = await readFile(f);
    h.update(`file\0${relative(root, f)}\0${body.length}\0`);
    h.update(body);
  }
  return h.digest('hex');
}

export function hashStrings(parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}
