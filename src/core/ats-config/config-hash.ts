// One hash for a set of configuration files, computed the same way from a ConfigMap's data (by
// the operator) and from the mounted directory (by the agent), so both can name the same
// configuration. Names sorted, each name and content length-prefixed: no two different sets of
// files share the input.
import { createHash } from 'node:crypto';

export interface ConfigFile {
  /** Path relative to the mount, "/" separated (a ConfigMap key, or an items path). */
  readonly name: string;
  readonly content: Uint8Array;
}

const DOMAIN = 'ticketkeys.dev/config-files/v1\0';

/** "sha256:<64 hex>". */
export function configFilesHash(files: Iterable<ConfigFile>): string {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const h = createHash('sha256').update(DOMAIN);
  for (const f of sorted) {
    const name = Buffer.from(f.name, 'utf8');
    h.update(`${name.length}:`).update(name).update(`${f.content.byteLength}:`).update(f.content);
  }
  return `sha256:${h.digest('hex')}`;
}

/** A ConfigMap's files as mounted: data keys as UTF-8, binaryData keys decoded from base64. */
export function configMapFiles(data: Readonly<Record<string, string>> = {}, binaryData: Readonly<Record<string, string>> = {}): ConfigFile[] {
  return [
    ...Object.entries(data).map(([name, text]) => ({ name, content: Buffer.from(text, 'utf8') })),
    ...Object.entries(binaryData).map(([name, b64]) => ({ name, content: Buffer.from(b64, 'base64') })),
  ];
}
