// One Dockerfile target built as it is (`buildah bud --target`), then written as an OCI archive
// for containerd to import. A failing step fails the build with that step named and its output.
import { rename, rm } from 'node:fs/promises';
import type { Buildah } from './buildah.ts';
import { CommandError, tail } from './run-command.ts';

export interface TargetBuild {
  /** Dockerfile path and build context directory. */
  dockerfile: string;
  context: string;
  target: string;
  /** Fully qualified tag (containerd normalises short names to docker.io/...). */
  ref: string;
  logFile: string;
  /** Extra `bud` arguments (build-time bind mounts, see build-trust.ts). */
  extraArgs?: string[];
  echo?: boolean;
}

export class DockerfileStepError extends Error {
  readonly step: string | undefined;
  readonly output: string;
  constructor(message: string, step: string | undefined, output: string) {
    super(message);
    this.name = 'DockerfileStepError';
    this.step = step;
    this.output = output;
  }
}

/** buildah prints "[1/5] STEP 3/7: RUN ..." before each instruction: the last one is the one that failed. */
export function lastStep(output: string): string | undefined {
  const steps = output.split('\n').filter((l) => /^(\[\d+\/\d+\] )?STEP \d+(\/\d+)?: /.test(l));
  return steps[steps.length - 1];
}

export async function budTarget(b: Buildah, t: TargetBuild): Promise<void> {
  const args = ['bud', '--layers', '--force-rm', '--pull=never', '--network', 'host', '--isolation', 'chroot', ...(t.extraArgs ?? []), '--target', t.target, '--tag', t.ref, '--file', t.dockerfile, t.context];
  try {
    await b.run(args, { logFile: t.logFile, echo: t.echo });
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    const step = lastStep(err.output);
    throw new DockerfileStepError(
      `Dockerfile target "${t.target}" failed${step === undefined ? '' : ` at ${step}`} (${t.dockerfile}; full log: ${t.logFile}):\n${tail(err.output, 30)}`,
      step,
      err.output,
    );
  }
}

/** `buildah push REF oci-archive:FILE:REF`, through a temporary file so a half-written archive is never reused. */
export async function pushArchive(b: Buildah, ref: string, archive: string, logFile: string): Promise<void> {
  const tmp = `${archive}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  try {
    await b.run(['push', '--quiet', ref, `oci-archive:${tmp}:${ref}`], { logFile });
    await rename(tmp, archive);
  } finally {
    await rm(tmp, { force: true });
  }
}
