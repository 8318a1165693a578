// ATS's config directory published the way kubelet publishes a ConfigMap volume (timestamped
// directory, `..data` symlink swap, top-level symlinks), so tests can "edit the ConfigMap" by
// writing a new version of the whole directory while ATS and the agent run on it.
import { mkdir, stat, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite, isAtomicWriterDir, type Payload } from './kubelet-atomic-writer.ts';

/** Every file under dir (following kubelet's top-level symlinks), by relative path; `..` entries skipped. */
async function readPayload(dir: string, prefix = ''): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const name of await readdir(join(dir, prefix))) {
    if (prefix === '' && name.startsWith('..')) continue; // kubelet's own ..data and timestamped dirs
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    if ((await stat(join(dir, rel))).isDirectory()) Object.assign(out, await readPayload(dir, rel));
    else out[rel] = await readFile(join(dir, rel));
  }
  return out;
}

/** Turns a plain directory into a kubelet-published one with the same files. */
export async function publishAsKubeletVolume(dir: string): Promise<void> {
  const payload = await readPayload(dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  await atomicWrite(dir, payload);
}

/**
 * Writes changed files (null: removes the file). A kubelet-published directory gets a whole
 * new version (one `..data` swap); a plain one gets the files written in place.
 */
export async function updateConfigDir(dir: string, changes: Record<string, string | Buffer | null>): Promise<void> {
  if (await isAtomicWriterDir(dir)) {
    const payload: Payload = await readPayload(dir);
    for (const [name, content] of Object.entries(changes)) {
      if (content === null) delete payload[name];
      else payload[name] = content;
    }
    await atomicWrite(dir, payload);
    return;
  }
  for (const [name, content] of Object.entries(changes)) {
    if (content === null) await rm(join(dir, name), { force: true });
    else await writeFile(join(dir, name), content);
  }
}
