// Where image builds keep their state: one cache directory per user, outside the repository, so
// a warm machine reuses base images and archives across clones and CI runs.
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ImagePaths {
  /** Root of everything below (TKO_IMAGES_CACHE overrides it). */
  cache: string;
  /** buildah's own image store (--root); vfs layers, never the system store. */
  storage: string;
  /** buildah's state directory (--runroot). */
  runroot: string;
  /** npm tarballs fetched once. */
  downloads: string;
  /** One JSON stamp per base image: the input key it was built from. */
  stamps: string;
  /** OCI archives of the Dockerfile targets, named by input key. */
  archives: string;
  /** Full output of each build step, for failures and timing. */
  logs: string;
  /** Scratch root filesystems (debootstrap). */
  work: string;
}

export function defaultCacheDir(): string {
  return process.env.TKO_IMAGES_CACHE ?? join(homedir(), '.cache', 'ticket-key-operator', 'images');
}

export function imagePaths(cache: string = defaultCacheDir()): ImagePaths {
  return {
    cache,
    storage: join(cache, 'storage'),
    runroot: join(cache, 'runroot'),
    downloads: join(cache, 'downloads'),
    stamps: join(cache, 'stamps'),
    archives: join(cache, 'archives'),
    logs: join(cache, 'logs'),
    work: join(cache, 'work'),
  };
}
