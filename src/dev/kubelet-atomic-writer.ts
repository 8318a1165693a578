// Writes a directory exactly as kubelet publishes a ConfigMap volume (AtomicWriter.Write in
// kubernetes pkg/volume/util/atomic_writer.go, the current algorithm with its step numbers):
// payload files go into a new hidden `..YYYY_MM_DD_HH_MM_SS.<random>` directory, a `..data_tmp`
// symlink to it is renamed over `..data` (the atomic switch), top-level names are symlinks
// `name -> ..data/name`, removed names are unlinked, and the previous timestamped directory is
// deleted. A payload identical to what ..data holds writes nothing.
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, readdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const DATA_DIR = '..data';
const NEW_DATA_DIR = '..data_tmp';

export interface ProjectedFile {
  content: string | Buffer;
  /** Default 0o644, ConfigMap volumes' defaultMode. */
  mode?: number;
}

export type Payload = Record<string, string | Buffer | ProjectedFile>;

export interface WriteOptions {
  /**
   * Publish a new timestamped directory even when the content is unchanged. Not what kubelet
   * does: lets a test show that a swap with the same content is no change.
   */
  alwaysSwap?: boolean;
}

function validatePath(p: string): void {
  if (p === '') throw new Error('invalid path: must not be empty');
  if (p.startsWith('/')) throw new Error(`invalid path: must be relative path: ${p}`);
  if (p.length > 4096) throw new Error('invalid path: must be less than or equal to 4096 characters');
  const items = p.split('/');
  for (const item of items) {
    if (item === '..') throw new Error(`invalid path: must not contain '..': ${p}`);
    if (item.length > 255) throw new Error('invalid path: filenames must be less than or equal to 255 characters');
  }
  if ((items[0] ?? '').startsWith('..') && (items[0] ?? '').length > 2) throw new Error(`invalid path: must not start with '..': ${p}`);
}

const exists = async (p: string): Promise<boolean> =>
  lstat(p).then(
    () => true,
    () => false,
  );

async function walkRelative(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    out.push(r);
    if (e.isDirectory()) out.push(...(await walkRelative(root, r)));
  }
  return out;
}

/** Go's time.Now().UTC().Format("..2006_01_02_15_04_05.") */
function timestampPrefix(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

/** One AtomicWriter.Write; `targetDir` must exist. */
export async function atomicWrite(targetDir: string, payload: Payload, options: WriteOptions = {}): Promise<void> {
  // (1) validate and normalise the payload
  const clean = new Map<string, { data: Buffer; mode: number }>();
  for (const [k, v] of Object.entries(payload)) {
    validatePath(k);
    const f = typeof v === 'string' || Buffer.isBuffer(v) ? { content: v } : v;
    clean.set(k.split('/').filter((s) => s !== '' && s !== '.').join('/'), { data: Buffer.from(f.content), mode: f.mode ?? 0o644 });
  }

  // (2) the current timestamped directory
  const dataDirPath = join(targetDir, DATA_DIR);
  let oldTsDir = '';
  try {
    oldTsDir = await readlink(dataDirPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const oldTsPath = join(targetDir, oldTsDir);

  let pathsToRemove = new Set<string>();
  let shouldWrite = true;
  if (oldTsDir !== '') {
    // (3) paths of the old version no longer in the payload (with their parent directories kept)
    const current = new Set(await walkRelative(oldTsPath).catch(() => []));
    const wanted = new Set<string>();
    for (const file of clean.keys()) {
      for (let sub = file; sub !== '' && sub !== '.'; sub = dirname(sub) === '.' ? '' : dirname(sub)) wanted.add(sub);
    }
    pathsToRemove = new Set([...current].filter((p) => !wanted.has(p)));
    // (4) is the payload already there?
    let differs = false;
    for (const [p, f] of clean) {
      const onDisk = await readFile(join(oldTsPath, p)).catch(() => undefined);
      if (!onDisk || !onDisk.equals(f.data)) differs = true;
    }
    if (!differs && pathsToRemove.size === 0 && !options.alwaysSwap) {
      // Up to date; the user-visible symlinks are still ensured (kubernetes#121472).
      shouldWrite = false;
      oldTsDir = '';
    }
  }

  if (shouldWrite) {
    // (5) new timestamped directory, 0755 whatever the umask
    const tsDir = await mkdtemp(join(targetDir, timestampPrefix()));
    await chmod(tsDir, 0o755);
    const tsDirName = tsDir.slice(targetDir.length + 1);
    // (6) the payload, each file chmod-ed to its mode
    for (const [p, f] of clean) {
      const full = join(tsDir, p);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, f.data, { mode: f.mode });
      await chmod(full, f.mode);
    }
    // (7) setPerms: ownership is not modelled.
    // (8) ..data_tmp -> the new timestamped directory
    const newDataDirPath = join(targetDir, NEW_DATA_DIR);
    await symlink(tsDirName, newDataDirPath);
    // (9) the atomic switch
    await rename(newDataDirPath, dataDirPath);
  }

  // (10) top-level user-visible symlinks, created where missing
  for (const p of clean.keys()) {
    const linkName = p.split('/')[0] ?? p;
    const visible = join(targetDir, linkName);
    try {
      await readlink(visible);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') await symlink(join(DATA_DIR, linkName), visible);
    }
  }

  // (11) remove top-level names no longer projected
  for (const p of pathsToRemove) {
    if (p.includes('/')) continue;
    await unlink(join(targetDir, p)).catch(() => undefined);
  }

  // (12) the previous timestamped directory
  if (oldTsDir !== '') await rm(oldTsPath, { recursive: true, force: true });
}

/** True when `dir` looks like an AtomicWriter target (for assertions in tests). */
export async function isAtomicWriterDir(dir: string): Promise<boolean> {
  return exists(join(dir, DATA_DIR));
}
