// Makes each local base image unless the store already holds it built from the same inputs.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Buildah } from './buildah.ts';
import type { BaseImage, BuildContext } from './base-image.ts';
import { readStamp, writeStamp } from './stamp.ts';

export interface BaseResult {
  name: string;
  ref: string;
  key: string;
  built: boolean;
  /** Time of the build that made the stored image (this run's, or the stamp's when reused). */
  buildMs: number;
}

/** Input keys only: no buildah call, so a warm run can decide from them alone. */
export async function baseKeys(bases: BaseImage[], ctx: Omit<BuildContext, 'keys'>): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  for (const base of bases) keys[base.name] = await base.key({ ...ctx, keys });
  return keys;
}

/** In order: a later image may build FROM an earlier one (node FROM debian). */
export async function ensureBases(b: Buildah, bases: BaseImage[], repo: string, log: (s: string) => void): Promise<BaseResult[]> {
  await mkdir(b.paths.logs, { recursive: true });
  const keys: Record<string, string> = {};
  const out: BaseResult[] = [];
  let rebuilt = false;
  for (const base of bases) {
    const logFile = join(b.paths.logs, `base-${base.name}.log`);
    const ctx: BuildContext = { repo, logFile, keys };
    const key = await base.key(ctx);
    keys[base.name] = key;
    const stamp = await readStamp(b.paths.stamps, base.name);
    // A parent rebuilt this run invalidates children even with equal keys (new image ID below them).
    if (!rebuilt && stamp?.key === key && (await b.imageExists(base.ref))) {
      out.push({ name: base.name, ref: base.ref, key, built: false, buildMs: stamp.buildMs });
      continue;
    }
    log(`building base image ${base.ref} (log: ${logFile})`);
    const t0 = Date.now();
    const info = await base.build(b, ctx);
    const buildMs = Date.now() - t0;
    await writeStamp(b.paths.stamps, base.name, { key, ref: base.ref, builtAt: new Date().toISOString(), buildMs, info });
    log(`built ${base.ref} in ${(buildMs / 1000).toFixed(1)} s`);
    rebuilt = true;
    out.push({ name: base.name, ref: base.ref, key, built: true, buildMs });
  }
  return out;
}
