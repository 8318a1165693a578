// A stamp records the input key a base image was built from; the image is reused only when the
// stamp matches and the image is still in the store.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Stamp {
  key: string;
  ref: string;
  builtAt: string;
  buildMs: number;
  /** Free-form facts worth keeping (resolved npm version, busybox package version...). */
  info?: Record<string, string>;
}

function stampFile(dir: string, name: string): string {
  return join(dir, `${name}.json`);
}

export async function readStamp(dir: string, name: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(stampFile(dir, name), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

export async function writeStamp(dir: string, name: string, stamp: Stamp): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(stampFile(dir, name), `${JSON.stringify(stamp, null, 2)}\n`);
}
