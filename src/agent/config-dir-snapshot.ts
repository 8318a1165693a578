// One consistent reading of a mounted ConfigMap directory: the visible files (kubelet's
// top-level symlinks into ..data, or plain files), their names and bytes, and the hash the
// operator computes from the ConfigMap itself. kubelet's own entries (..data, ..data_tmp, the
// ..<timestamp> directories) are skipped. Hostile content is a problem naming the path, never
// a crash or a stall: symlink loops, directory cycles, FIFOs and devices, files over 1 MiB,
// binary data, too many entries.
import { constants } from 'node:fs';
import { open, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { configFilesHash, type ConfigFile } from '../core/ats-config/config-hash.ts';
import { ConfigUnparseable } from '../core/ats-config/problems.ts';
import { configText, MAX_CONFIG_FILE_BYTES } from '../core/ats-config/source-text.ts';

export const MAX_DIR_ENTRIES = 256;
export const MAX_DIR_DEPTH = 4;
export const MAX_DIR_BYTES = 4 * MAX_CONFIG_FILE_BYTES;
/** Readings retried when kubelet swapped ..data while the files were read. */
const SWAP_RETRIES = 3;

export interface ConfigDirSnapshot {
  readonly hash: string;
  readonly files: readonly { readonly name: string }[];
}

export interface ConfigDirProblem {
  /** Relative to the watched directory ("" for the directory itself). */
  readonly path: string;
  readonly message: string;
}

export type ConfigDirReading = { readonly ok: true; readonly snapshot: ConfigDirSnapshot } | { readonly ok: false; readonly problem: ConfigDirProblem };

class Refused extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

async function readBounded(path: string, rel: string): Promise<Buffer> {
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Refused(rel, 'not a regular file');
    if (st.size > MAX_CONFIG_FILE_BYTES) throw new Refused(rel, `the file is ${st.size} bytes; files over ${MAX_CONFIG_FILE_BYTES} bytes (1 MiB) are refused`);
    const buf = Buffer.alloc(MAX_CONFIG_FILE_BYTES + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > MAX_CONFIG_FILE_BYTES) throw new Refused(rel, `the file grew past ${MAX_CONFIG_FILE_BYTES} bytes (1 MiB) while read; refused`);
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

async function walk(root: string, rel: string, depth: number, seenDirs: Set<string>, files: ConfigFile[], total: { bytes: number; entries: number }): Promise<void> {
  const dirPath = rel === '' ? root : join(root, rel);
  const names = (await readdir(dirPath)).filter((n) => !n.startsWith('..')).sort();
  for (const name of names) {
    const relName = rel === '' ? name : `${rel}/${name}`;
    total.entries += 1;
    if (total.entries > MAX_DIR_ENTRIES) throw new Refused(relName, `more than ${MAX_DIR_ENTRIES} entries; refused`);
    const path = join(root, relName);
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      if (codeOf(err) === 'ELOOP') throw new Refused(relName, 'symlink loop');
      // A link left dangling (mid-swap, or pointing nowhere) is not a file of the configuration.
      if (codeOf(err) === 'ENOENT') continue;
      throw new Refused(relName, `cannot be read (${codeOf(err) ?? 'error'})`);
    }
    if (st.isDirectory()) {
      const id = `${st.dev}:${st.ino}`;
      if (seenDirs.has(id)) throw new Refused(relName, 'symlink loop (the directory contains itself)');
      if (depth + 1 > MAX_DIR_DEPTH) throw new Refused(relName, `nested deeper than ${MAX_DIR_DEPTH} directories; refused`);
      seenDirs.add(id);
      await walk(root, relName, depth + 1, seenDirs, files, total);
      seenDirs.delete(id);
      continue;
    }
    if (!st.isFile()) throw new Refused(relName, 'not a regular file');
    let content: Buffer;
    try {
      content = await readBounded(path, relName);
    } catch (err) {
      if (err instanceof Refused) throw err;
      if (codeOf(err) === 'ELOOP') throw new Refused(relName, 'symlink loop');
      if (codeOf(err) === 'ENOENT') continue;
      throw new Refused(relName, `cannot be read (${codeOf(err) ?? 'error'})`);
    }
    total.bytes += content.length;
    if (total.bytes > MAX_DIR_BYTES) throw new Refused(relName, `the files exceed ${MAX_DIR_BYTES} bytes in all; refused`);
    try {
      configText(relName, content);
    } catch (err) {
      if (err instanceof ConfigUnparseable) throw new Refused(relName, `${err.line === undefined ? '' : `line ${err.line}: `}${err.detail}`);
      throw err;
    }
    files.push({ name: relName, content });
  }
}

async function dataTarget(dir: string): Promise<string | undefined> {
  try {
    return await readlink(join(dir, '..data'));
  } catch {
    return undefined;
  }
}

/** Reads the directory once (retrying while kubelet swaps ..data underneath). */
export async function readConfigDir(dir: string): Promise<ConfigDirReading> {
  for (let attempt = 0; ; attempt++) {
    const before = await dataTarget(dir);
    const files: ConfigFile[] = [];
    try {
      const st = await stat(dir);
      if (!st.isDirectory()) return { ok: false, problem: { path: '', message: 'not a directory' } };
      await walk(dir, '', 0, new Set([`${st.dev}:${st.ino}`]), files, { bytes: 0, entries: 0 });
    } catch (err) {
      if (err instanceof Refused) return { ok: false, problem: { path: err.path, message: err.message } };
      return { ok: false, problem: { path: '', message: `cannot read the directory (${codeOf(err) ?? (err instanceof Error ? err.name : 'error')})` } };
    }
    if ((await dataTarget(dir)) !== before && attempt < SWAP_RETRIES) continue;
    return { ok: true, snapshot: { hash: configFilesHash(files), files: files.map((f) => ({ name: f.name })) } };
  }
}
