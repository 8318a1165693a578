// TLS material that follows its files without a restart. The kubelet (Secret volumes) and
// cert-manager's CSI drivers replace files by swapping a symlink, which fs.watch reports
// unreliably or not at all, so the files' content is hashed every few seconds instead. When
// any of them changed, all are read again and handed to `apply`; when `apply` refuses them (a
// certificate and key that do not match, say: the swap of the two files is not atomic for a
// reader), the error is logged, the material in use stays, and the next change tries again.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../observability/logger.ts';

export const DEFAULT_RELOAD_INTERVAL_MS = 5000;

export interface ReloadingFilesOptions {
  /** For logs, e.g. 'agent serving certificate'. */
  what: string;
  paths: readonly string[];
  /** Receives every file's content (in `paths` order); throws to refuse them. */
  apply(contents: Buffer[]): void | Promise<void>;
  logger: Logger;
  intervalMs?: number;
}

export interface ReloadingFiles {
  /** Stops polling (an apply under way finishes). */
  stop(): Promise<void>;
}

function digest(contents: Buffer[]): string {
  const h = createHash('sha256');
  for (const c of contents) h.update(`${c.length}:`).update(c);
  return h.digest('hex');
}

/**
 * Reads the files and applies them once (a failure there is the caller's start-up error), then
 * polls. Resolves once the first apply succeeded.
 */
export async function watchTlsFiles(options: ReloadingFilesOptions): Promise<ReloadingFiles> {
  const { what, paths, apply, logger } = options;
  const first = await Promise.all(paths.map((p) => readFile(p)));
  await apply(first);
  let tried = digest(first);
  let running: Promise<void> | undefined;

  const poll = async (): Promise<void> => {
    let contents: Buffer[];
    try {
      contents = await Promise.all(paths.map((p) => readFile(p)));
    } catch (err) {
      // Mid-swap a path may briefly be missing; the next poll sees the new files.
      logger.debug('TLS files not readable; keeping the material in use', { what, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      return;
    }
    const d = digest(contents);
    if (d === tried) return;
    tried = d;
    try {
      await apply(contents);
      logger.info('TLS files reloaded', { what });
    } catch (err) {
      // OpenSSL's messages name the problem ("key values mismatch"), never the key.
      logger.warn('new TLS files refused; keeping the material in use', { what, error: err instanceof Error ? err.message : String(err) });
    }
  };
  const timer = setInterval(() => {
    running ??= poll().finally(() => {
      running = undefined;
    });
  }, options.intervalMs ?? DEFAULT_RELOAD_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
