// The ATS configuration files a ConfigMap carries, each read by the parser for its format. A
// file that cannot be read is kept as its ConfigUnparseable error; the others still count.
import type { ConfigFile } from './config-hash.ts';
import { ConfigUnparseable } from './problems.ts';
import { parseRecordsConfig } from './records-config.ts';
import type { RecordsFile } from './records.ts';
import { parseRecordsYaml } from './records-yaml.ts';
import { parseSniYaml, type SniYamlFile } from './sni-yaml.ts';
import { parseSslMulticert, type SslMulticertFile } from './ssl-multicert.ts';

export interface AtsConfigFiles {
  /** records.config and/or records.yaml, in that order (ATS 9 reads the first, ATS 10 the second). */
  readonly records: readonly RecordsFile[];
  readonly sslMulticert?: SslMulticertFile;
  readonly sni?: SniYamlFile;
  readonly unparseable: readonly ConfigUnparseable[];
}

function attempt<T>(file: string, unparseable: ConfigUnparseable[], parse: () => T): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ConfigUnparseable) {
      unparseable.push(err);
      return undefined;
    }
    // A parser bug must not hide the file: report it against the file, without content.
    unparseable.push(new ConfigUnparseable(file, undefined, `could not be read (${err instanceof Error ? err.name : 'error'})`));
    return undefined;
  }
}

/** Reads the known files among `files`; other keys (remap.config, plugin files…) are ignored. */
export function parseAtsConfigFiles(files: readonly ConfigFile[]): AtsConfigFiles {
  const byName = new Map(files.map((f) => [f.name, f.content]));
  const unparseable: ConfigUnparseable[] = [];
  const records: RecordsFile[] = [];
  const rc = byName.get('records.config');
  const ry = byName.get('records.yaml');
  const mc = byName.get('ssl_multicert.config');
  const sn = byName.get('sni.yaml');
  const recordsConfig = rc && attempt('records.config', unparseable, () => parseRecordsConfig(rc));
  if (recordsConfig) records.push(recordsConfig);
  const recordsYaml = ry && attempt('records.yaml', unparseable, () => parseRecordsYaml(ry));
  if (recordsYaml) records.push(recordsYaml);
  const sslMulticert = mc && attempt('ssl_multicert.config', unparseable, () => parseSslMulticert(mc));
  const sni = sn && attempt('sni.yaml', unparseable, () => parseSniYaml(sn));
  return { records, unparseable, ...(sslMulticert ? { sslMulticert } : {}), ...(sni ? { sni } : {}) };
}
