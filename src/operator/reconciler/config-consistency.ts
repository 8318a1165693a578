// The ConfigConsistent condition of a TicketKeySet: its spec.atsConfig.configMapRef read live,
// parsed once per (namespace/name, resourceVersion) — a hostile 1 MiB file costs one parse, not
// one per reconcile — and analyzed against spec.ticketLifetime and spec.fileFallback (the
// analysis itself is cheap and depends on the spec, so it runs every time).
// Never in the way of key delivery: the reconciler runs it after the pushes, and a failed read
// keeps the last published condition.
import { analyzeConfigConsistency, type ConfigConsistentCondition } from '../../core/ats-config/consistency.ts';
import { configFilesHash, configMapFiles } from '../../core/ats-config/config-hash.ts';
import { parseAtsConfigFiles, type AtsConfigFiles } from '../../core/ats-config/config-map-files.ts';
import type { ConfigFile } from '../../core/ats-config/config-hash.ts';
import type { ConfigMapPort } from '../kube/config-map-reader.ts';
import type { ObjectRef } from '../runtime/object-key.ts';

export interface ConfigCheckInput {
  readonly ref: ObjectRef;
  readonly ticketLifetimeMs: number;
  readonly fileFallbackEnabled: boolean;
}

export interface ConfigCheck {
  readonly condition: ConfigConsistentCondition;
  /** The hash agents report for this ConfigMap's files once mounted; absent when it does not exist. */
  readonly configHash?: string;
}

interface Parsed {
  readonly resourceVersion: string;
  readonly files: AtsConfigFiles;
  readonly configHash: string;
}

export class ConfigConsistencyChecker {
  private readonly cache = new Map<string, Parsed>();
  private readonly configMaps: ConfigMapPort;
  private readonly parse: (files: readonly ConfigFile[]) => AtsConfigFiles;

  /** `parse` is replaceable so tests can count parses. */
  constructor(configMaps: ConfigMapPort, parse: (files: readonly ConfigFile[]) => AtsConfigFiles = parseAtsConfigFiles) {
    this.configMaps = configMaps;
    this.parse = parse;
  }

  /** Throws when the ConfigMap cannot be read (API error or timeout): the caller keeps the last condition. */
  async check(input: ConfigCheckInput): Promise<ConfigCheck> {
    const key = `${input.ref.namespace}/${input.ref.name}`;
    const cm = await this.configMaps.get(input.ref);
    const base = { configMapName: input.ref.name, ticketLifetimeMs: input.ticketLifetimeMs, fileFallbackEnabled: input.fileFallbackEnabled };
    if (!cm) {
      this.cache.delete(key);
      return { condition: analyzeConfigConsistency({ ...base, configMap: { found: false } }).condition };
    }
    let parsed = this.cache.get(key);
    if (!parsed || parsed.resourceVersion !== cm.resourceVersion || cm.resourceVersion === '') {
      const files = configMapFiles(cm.data, cm.binaryData);
      parsed = { resourceVersion: cm.resourceVersion, files: this.parse(files), configHash: configFilesHash(files) };
      this.cache.set(key, parsed);
    }
    return { condition: analyzeConfigConsistency({ ...base, configMap: { found: true, ...parsed.files } }).condition, configHash: parsed.configHash };
  }

  /** Drops cached parses of ConfigMaps no TicketKeySet references any more. */
  retain(referenced: Iterable<string>): void {
    const keep = new Set(referenced);
    for (const k of this.cache.keys()) if (!keep.has(k)) this.cache.delete(k);
  }
}
