// Watches a mounted ConfigMap directory the way configmap-reload and prometheus-operator's
// config-reloader do: kubelet publishes an update by renaming a new `..data` symlink over the
// old one (pkg/volume/util/atomic_writer.go), which fs.watch on the directory reports; a
// periodic re-read catches what events miss (an edit inside ..data, a dropped inotify event, a
// directory re-created under the watch). Events and re-reads are debounced into one reading;
// `change` fires once per new content hash, never for a swap that leaves the content as it was.
// A reading that fails (symlink loop, binary data, a file over 1 MiB) is reported once per
// distinct problem through `problem`, the last good hash stays, and watching goes on.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../observability/logger.ts';
import { readConfigDir, type ConfigDirProblem, type ConfigDirSnapshot } from './config-dir-snapshot.ts';

export const DEFAULT_CONFIG_DEBOUNCE_MS = 1000;
export const DEFAULT_CONFIG_RESYNC_MS = 30_000;

export interface ConfigDirWatcherOptions {
  dir: string;
  logger: Logger;
  /** Quiet time after the last event before the directory is read. */
  debounceMs?: number;
  /** Safety-net re-read period. */
  resyncIntervalMs?: number;
  /** false: periodic re-reads only (file systems without inotify). */
  useFsEvents?: boolean;
}

export interface ConfigDirWatcherEvents {
  change: [hash: string, snapshot: ConfigDirSnapshot];
  problem: [problem: ConfigDirProblem];
}

export class ConfigDirWatcher extends EventEmitter<ConfigDirWatcherEvents> {
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly resyncIntervalMs: number;
  private readonly useFsEvents: boolean;
  private fsWatcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private stopped = false;
  private emittedHash: string | undefined;
  private lastProblem: string | undefined;

  constructor(options: ConfigDirWatcherOptions) {
    super();
    this.dir = options.dir;
    this.logger = options.logger;
    this.debounceMs = options.debounceMs ?? DEFAULT_CONFIG_DEBOUNCE_MS;
    this.resyncIntervalMs = options.resyncIntervalMs ?? DEFAULT_CONFIG_RESYNC_MS;
    this.useFsEvents = options.useFsEvents ?? true;
  }

  /** The hash of the last good reading (the one ATS is assumed to run with). */
  get hash(): string | undefined {
    return this.emittedHash;
  }

  /**
   * Reads the directory once as the baseline (no `change`: ATS started with these files), then
   * watches. A baseline that cannot be read is reported; the first good reading then counts as
   * a change, since what ATS loaded is unknown.
   */
  async start(): Promise<ConfigDirSnapshot | undefined> {
    const first = await readConfigDir(this.dir);
    if (first.ok) this.emittedHash = first.snapshot.hash;
    else this.report(first.problem);
    this.ensureFsWatch();
    this.resync = setInterval(() => {
      this.ensureFsWatch();
      this.schedule();
    }, this.resyncIntervalMs);
    this.resync.unref();
    return first.ok ? first.snapshot : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    clearInterval(this.resync);
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
    await this.reading;
  }

  private ensureFsWatch(): void {
    if (!this.useFsEvents || this.fsWatcher || this.stopped) return;
    try {
      const w = watch(this.dir, { persistent: false }, () => this.schedule());
      w.on('error', (err) => {
        // The directory went away or the watch broke: the re-read reports it and re-watches.
        this.logger.debug('config directory watch ended', { dir: this.dir, error: (err as NodeJS.ErrnoException).code ?? err.message });
        w.close();
        if (this.fsWatcher === w) this.fsWatcher = undefined;
        this.schedule();
      });
      this.fsWatcher = w;
    } catch (err) {
      this.logger.debug('config directory not watchable yet', { dir: this.dir, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.readNow(), this.debounceMs);
    this.debounce.unref();
  }

  private readNow(): void {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.check()
      .catch((err: unknown) => {
        // A throwing `change` listener lands here too: logged, the watch goes on.
        this.logger.error('config directory check failed', { dir: this.dir, error: err instanceof Error ? err.message : String(err) });
      })
      .finally(() => {
        this.reading = undefined;
        if (this.readAgain) {
          this.readAgain = false;
          this.schedule();
        }
      });
  }

  private async check(): Promise<void> {
    const reading = await readConfigDir(this.dir);
    if (this.stopped) return;
    if (!reading.ok) {
      this.report(reading.problem);
      return;
    }
    if (this.lastProblem !== undefined) this.logger.info('config directory readable again', { dir: this.dir });
    this.lastProblem = undefined;
    const { hash } = reading.snapshot;
    if (hash === this.emittedHash) return;
    this.emittedHash = hash;
    this.logger.info('config directory changed', { dir: this.dir, hash, files: reading.snapshot.files.length });
    this.emit('change', hash, reading.snapshot);
  }

  private report(problem: ConfigDirProblem): void {
    const key = `${problem.path}\0${problem.message}`;
    if (key === this.lastProblem) return;
    this.lastProblem = key;
    this.logger.warn('config directory unreadable; keeping the last good configuration hash', { dir: this.dir, path: problem.path, problem: problem.message });
    this.emit('problem', problem);
  }
}
