// Entry point for the cluster set-up: every image archive, built only when missing. Keys first
// (cheap, no buildah): with all archives present for the current inputs nothing else runs.
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busyboxBase } from './base-busybox.ts';
import { debianBase } from './base-debian.ts';
import type { BaseImage } from './base-image.ts';
import { nodeBase } from './base-node.ts';
import { budTarget, pushArchive } from './build-target.ts';
import { buildVolumes } from './build-trust.ts';
import { Buildah } from './buildah.ts';
import { baseKeys, ensureBases, type BaseResult } from './ensure-base.ts';
import { IMAGES, type ImageName, type ImageSpec } from './images.ts';
import { dockerInputFiles, hashInputs } from './input-hash.ts';
import { withLock } from './lock.ts';
import { imagePaths } from './paths.ts';

/** Bump when the target build steps here change what an archive holds. */
const TARGET_SCRIPT_VERSION = '2';
export const BASES: readonly BaseImage[] = [debianBase, nodeBase, busyboxBase];
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface EnsureImagesOptions {
  /** Repository (build context); defaults to this checkout. */
  repo?: string;
  /** Dockerfile; defaults to <repo>/Dockerfile (a test builds a broken copy against the real context). */
  dockerfile?: string;
  /** Cache root; defaults to ~/.cache/ticket-key-operator/images (or TKO_IMAGES_CACHE). */
  cacheDir?: string;
  /** Subset of images; all by default. */
  names?: ImageName[];
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Stream buildah's output to stderr. */
  echo?: boolean;
}

export interface ImageResult {
  name: ImageName;
  ref: string;
  /** OCI archive (`ctr images import` takes it as is). */
  archive: string;
  /** Archive size in bytes (compressed layers). */
  sizeBytes: number;
  /** Size in the store, uncompressed, as buildah reports it (what a node's disk holds). */
  imageBytes: number;
  /** Built by this call (false: reused from the cache). */
  built: boolean;
  /** Time of the build that produced the archive. */
  buildMs: number;
}

interface ArchiveMeta {
  ref: string;
  key: string;
  imageBytes: number;
  buildMs: number;
}

function archivePath(dir: string, spec: ImageSpec, key: string): string {
  return join(dir, `${spec.name}-${key.slice(0, 16)}.oci.tar`);
}

async function readMeta(archive: string): Promise<ArchiveMeta | undefined> {
  try {
    await stat(archive);
    return JSON.parse(await readFile(`${archive}.json`, 'utf8')) as ArchiveMeta;
  } catch {
    return undefined;
  }
}

/** Archives of the same image from older inputs: removed so the cache does not grow per commit. */
async function removeStale(dir: string, spec: ImageSpec, keep: string): Promise<void> {
  // Exact name pattern: `ats-` must not match `ats-plugin-...`.
  const mine = new RegExp(`^${spec.name}-([0-9a-f]{16})\\.oci\\.tar(\\.json)?$`);
  for (const n of await readdir(dir)) {
    const m = mine.exec(n);
    if (m !== null && m[1] !== keep.slice(0, 16)) await rm(join(dir, n), { force: true });
  }
}

export interface ImagesReport {
  images: ImageResult[];
  bases: BaseResult[];
}

export async function ensureImagesReport(options: EnsureImagesOptions = {}): Promise<ImagesReport> {
  const repo = options.repo ?? REPO_ROOT;
  const paths = imagePaths(options.cacheDir);
  const log = options.log ?? (() => undefined);
  const specs = IMAGES.filter((s) => options.names === undefined || options.names.includes(s.name));
  for (const d of [paths.archives, paths.logs, paths.stamps]) await mkdir(d, { recursive: true });
  return withLock(join(paths.cache, 'build.lock'), async () => {
    const dockerfile = options.dockerfile ?? join(repo, 'Dockerfile');
    const keys = await baseKeys([...BASES], { repo, logFile: join(paths.logs, 'keys.log') });
    const files = await dockerInputFiles(repo, dockerfile);
    const inputKey = await hashInputs(repo, files, [`targets:v${TARGET_SCRIPT_VERSION}`, ...Object.entries(keys).map(([k, v]) => `${k}=${v}`)]);
    const b = new Buildah(paths);
    await b.init();
    let bases: BaseResult[] = [];
    let volumes: string[] | undefined;
    const images: ImageResult[] = [];
    for (const spec of specs) {
      const key = `${spec.target}:${inputKey}`;
      const archive = archivePath(paths.archives, spec, inputKey);
      const meta = await readMeta(archive);
      if (meta !== undefined && meta.key === key) {
        images.push({ name: spec.name, ref: spec.ref, archive, sizeBytes: (await stat(archive)).size, imageBytes: meta.imageBytes, built: false, buildMs: meta.buildMs });
        continue;
      }
      if (bases.length === 0) bases = await ensureBases(b, [...BASES], repo, log);
      volumes ??= await buildVolumes(paths.cache);
      const logFile = join(paths.logs, `target-${spec.name}.log`);
      await writeFile(logFile, '');
      log(`building Dockerfile target ${spec.target} as ${spec.ref} (log: ${logFile})`);
      const t0 = Date.now();
      await budTarget(b, { dockerfile, context: repo, target: spec.target, ref: spec.ref, logFile, extraArgs: volumes, echo: options.echo });
      await pushArchive(b, spec.ref, archive, logFile);
      const buildMs = Date.now() - t0;
      const imageBytes = await b.imageSize(spec.ref);
      await writeFile(`${archive}.json`, `${JSON.stringify({ ref: spec.ref, key, imageBytes, buildMs } satisfies ArchiveMeta, null, 2)}\n`);
      await removeStale(paths.archives, spec, inputKey);
      const sizeBytes = (await stat(archive)).size;
      log(`built ${spec.ref} in ${(buildMs / 1000).toFixed(1)} s: ${archive} (${(sizeBytes / 1e6).toFixed(1)} MB)`);
      images.push({ name: spec.name, ref: spec.ref, archive, sizeBytes, imageBytes, built: true, buildMs });
    }
    // vfs stores every layer as a full copy: drop the layers nothing points at any more (old
    // sources' leaves). Chains still in use (npm ci under the current sources) stay cached.
    if (images.some((i) => i.built)) await b.run(['rmi', '--prune']).catch(() => undefined);
    return { images, bases };
  }, log);
}

/** The archives the cluster imports, building whatever is missing. */
export async function ensureImages(options: EnsureImagesOptions = {}): Promise<ImageResult[]> {
  return (await ensureImagesReport(options)).images;
}
