// Reads an OCI image archive (the tar `buildah push oci-archive:` writes) without unpacking it:
// index -> manifest -> config, the same path containerd's import takes.
import { run } from './run-command.ts';

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface OciIndex {
  schemaVersion: number;
  manifests: OciDescriptor[];
}

export interface OciManifest {
  schemaVersion: number;
  config: OciDescriptor;
  layers: OciDescriptor[];
}

export interface OciImageConfig {
  architecture: string;
  os: string;
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string };
  rootfs: { type: string; diff_ids: string[] };
}

async function member(archive: string, path: string): Promise<string> {
  return (await run('tar', ['-xOf', archive, path])).stdout;
}

function blobPath(digest: string): string {
  const [alg, hex] = digest.split(':');
  if (alg === undefined || hex === undefined || !/^[a-f0-9]+$/.test(hex)) throw new Error(`bad digest ${digest}`);
  return `blobs/${alg}/${hex}`;
}

export interface OciArchiveContents {
  layout: { imageLayoutVersion: string };
  index: OciIndex;
  manifest: OciManifest;
  config: OciImageConfig;
  /** org.opencontainers.image.ref.name of the (first) manifest: the name containerd imports it under. */
  refName: string | undefined;
}

export async function readOciArchive(archive: string): Promise<OciArchiveContents> {
  const layout = JSON.parse(await member(archive, 'oci-layout')) as { imageLayoutVersion: string };
  const index = JSON.parse(await member(archive, 'index.json')) as OciIndex;
  const first = index.manifests[0];
  if (first === undefined) throw new Error(`${archive}: index.json lists no manifest`);
  const manifest = JSON.parse(await member(archive, blobPath(first.digest))) as OciManifest;
  const config = JSON.parse(await member(archive, blobPath(manifest.config.digest))) as OciImageConfig;
  return { layout, index, manifest, config, refName: first.annotations?.['org.opencontainers.image.ref.name'] };
}
