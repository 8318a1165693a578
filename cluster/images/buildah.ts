// buildah with a private store: its own --root/--runroot under the cache, the vfs driver (no
// overlay mounts needed), chroot isolation and the host network (no registry is reachable, so
// nothing is ever pulled: every base image is made locally, see base-*.ts).
import { mkdir } from 'node:fs/promises';
import type { ImagePaths } from './paths.ts';
import { run, type RunOptions, type RunResult } from './run-command.ts';

export class Buildah {
  readonly paths: ImagePaths;
  constructor(paths: ImagePaths) {
    this.paths = paths;
  }

  globalArgs(): string[] {
    return ['--root', this.paths.storage, '--runroot', this.paths.runroot, '--storage-driver', 'vfs'];
  }

  async init(): Promise<void> {
    for (const d of [this.paths.storage, this.paths.runroot]) await mkdir(d, { recursive: true });
  }

  /** `buildah <args>` against the private store. */
  run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    // BUILDAH_ISOLATION: `buildah run` and `bud` RUN steps both use chroot (no nested runc needed).
    return run('buildah', [...this.globalArgs(), ...args], { ...opts, env: { ...process.env, ...opts.env, BUILDAH_ISOLATION: 'chroot' } });
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.run(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', ref]);
      return true;
    } catch {
      return false;
    }
  }

  /** Image size as the store counts it (uncompressed layers). */
  async imageSize(ref: string): Promise<number> {
    const { stdout } = await this.run(['images', '--noheading', '--format', '{{.Size}}', '--filter', `reference=${ref}`]);
    return parseHumanSize(stdout.trim().split('\n')[0] ?? '');
  }

  /** A working container from a local image (never pulled). */
  async from(ref: string, opts: RunOptions = {}): Promise<string> {
    const { stdout } = await this.run(['from', '--pull=never', ref], opts);
    return stdout.trim().split('\n').pop() ?? '';
  }

  async mount(container: string): Promise<string> {
    return (await this.run(['mount', container])).stdout.trim();
  }

  async remove(container: string): Promise<void> {
    await this.run(['rm', container]).catch(() => undefined);
  }
}

/** "312 MB" / "1.2 GB" (buildah's decimal units) -> bytes, approximate. */
export function parseHumanSize(s: string): number {
  const m = /^([\d.]+)\s*([kKMGT]?B)$/.exec(s.trim());
  if (m?.[1] === undefined) return Number.NaN;
  const unit = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[m[2] ?? 'B'] ?? 1;
  return Math.round(Number(m[1]) * unit);
}
