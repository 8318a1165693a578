// Proof that no key bytes leak: the keys are read from the owned Secret (as often as the test
// likes, so every key of a scenario is caught before it expires out of the ring), and texts
// (operator and agent logs, Events, status JSON) are scanned for each key in raw, hex, base64,
// base64url and decimal-list forms, and for its 16-byte key name (the part of a ticket a
// careless log line would show). Hits name the source, the form and the key's fingerprint;
// the bytes never leave this object.
//
//   const scan = new KeyScanner(kc, namespace, ['web']);
//   scan.startCollecting();              reads the Secret every second until stopCollecting()
//   await scan.collect();                one more read
//   expect(scan.scan(await scanSources({ kc, namespace, operator, fleet }))).toEqual([]);
//   scan.destroy();
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/names.ts';
import { secretName } from '../../src/api/names.ts';
import { SecretStore } from '../../src/operator/kube/secret-store.ts';
import type { Fleet } from '../../dev/fleet.ts';
import type { SpawnedOperator } from '../../dev/operator-process.ts';

export interface KeyHit {
  source: string;
  form: string;
  /** Of the leaked key (a hash, safe to print). */
  fingerprint: string;
}

const KEY_NAME_BYTES = 16;

interface Needle {
  form: string;
  text?: string;
  bytes?: Buffer;
}

function needles(key: Buffer): Needle[] {
  const name = key.subarray(0, KEY_NAME_BYTES);
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  const b64url = (b: Buffer) => b.toString('base64url');
  return [
    { form: 'raw', bytes: Buffer.from(key) },
    { form: 'hex', text: key.toString('hex') },
    { form: 'HEX', text: key.toString('hex').toUpperCase() },
    { form: 'base64', text: b64(key) },
    { form: 'base64url', text: b64url(key) },
    { form: 'decimal list', text: [...key].join(',') },
    { form: 'key name raw', bytes: Buffer.from(name) },
    { form: 'key name hex', text: name.toString('hex') },
    { form: 'key name HEX', text: name.toString('hex').toUpperCase() },
    // 16 bytes: the first 20 characters (15 bytes) do not depend on what follows.
    { form: 'key name base64', text: b64(name).slice(0, 20) },
    { form: 'key name base64url', text: b64url(name).slice(0, 20) },
    { form: 'key name decimal list', text: [...name].join(',') },
  ];
}

export class KeyScanner {
  readonly #secrets: SecretStore;
  readonly #namespace: string;
  readonly #names: readonly string[];
  /** fingerprint → a copy of the 48 bytes, zeroed by destroy(). */
  readonly #keys = new Map<string, Buffer>();
  #timer: NodeJS.Timeout | undefined;
  #reads = 0;

  constructor(kc: KubeConfig, namespace: string, ticketKeySets: readonly string[]) {
    this.#secrets = new SecretStore({ kubeConfig: kc });
    this.#namespace = namespace;
    this.#names = ticketKeySets;
  }

  /** Distinct keys collected so far. */
  get keyCount(): number {
    return this.#keys.size;
  }

  /** Successful Secret reads so far. */
  get reads(): number {
    return this.#reads;
  }

  /** Adds a key by its bytes (a copy is kept): for the scanner's own tests. */
  addKey(fingerprint: string, bytes: Uint8Array): void {
    this.#keys.set(fingerprint, Buffer.from(bytes));
  }

  /** Reads every set's Secret once and keeps the keys not seen yet (absent Secrets are skipped). */
  async collect(): Promise<void> {
    for (const name of this.#names) {
      const loaded = await this.#secrets.load({ namespace: this.#namespace, name: secretName(name) });
      if (!loaded) continue;
      if ('error' in loaded) throw loaded.error;
      const { state } = loaded;
      this.#reads++;
      for (const k of state.keys) {
        if (!this.#keys.has(k.material.fingerprint)) this.#keys.set(k.material.fingerprint, k.material.copyBytes());
        k.material.destroy();
      }
    }
  }

  /** Collects in the background (errors ignored: the API server may be down on purpose). */
  startCollecting(intervalMs = 1000): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.collect().catch(() => {}), intervalMs);
  }

  stopCollecting(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Every occurrence of a collected key (or key name) in the sources, by source and form. */
  scan(sources: Readonly<Record<string, string>>): KeyHit[] {
    if (this.#keys.size === 0) throw new Error('KeyScanner holds no keys: collect() before scanning, or nothing is proven');
    const hits: KeyHit[] = [];
    for (const [source, text] of Object.entries(sources)) {
      const asUtf8 = Buffer.from(text, 'utf8');
      const asLatin1 = Buffer.from(text, 'latin1');
      for (const [fingerprint, key] of this.#keys) {
        for (const n of needles(key)) {
          const found = n.text !== undefined ? text.includes(n.text) : asUtf8.includes(n.bytes!) || asLatin1.includes(n.bytes!);
          if (found) hits.push({ source, form: n.form, fingerprint });
          n.bytes?.fill(0);
        }
      }
    }
    return hits;
  }

  destroy(): void {
    this.stopCollecting();
    for (const k of this.#keys.values()) k.fill(0);
    this.#keys.clear();
  }
}

/**
 * Agent logs outlive the agents: a test archives a pod's log lines before it stops or replaces
 * the agent, and scanSources() adds them to those of the agents still running.
 */
export class AgentLogArchive {
  readonly #lines = new Map<string, string[]>();

  /** Keeps the current agent's lines of `pod` (call before fleet.stopAgent). */
  keep(fleet: Fleet, pod: string): void {
    const lines = fleet.get(pod).agent?.logs() ?? [];
    this.#lines.set(pod, [...(this.#lines.get(pod) ?? []), ...lines]);
  }

  texts(): Record<string, string> {
    return Object.fromEntries([...this.#lines].map(([pod, lines]) => [`agent log ${pod} (stopped)`, lines.join('\n')]));
  }
}

export interface ScanSourceOptions {
  kc: KubeConfig;
  namespace: string;
  operator?: SpawnedOperator;
  fleet?: Fleet;
  archive?: AgentLogArchive;
  /** More texts by name (e.g. a fake server's log). */
  extra?: Record<string, string>;
}

/** What a scan must cover: operator and agent logs, ATS logs, every Event and status in the namespace. */
export async function scanSources(o: ScanSourceOptions): Promise<Record<string, string>> {
  const out: Record<string, string> = { ...o.archive?.texts(), ...o.extra };
  if (o.operator) out['operator log'] = o.operator.logs().join('\n');
  for (const pod of o.fleet?.names() ?? []) {
    const m = o.fleet!.get(pod);
    if (m.agent) out[`agent log ${pod}`] = m.agent.logs().join('\n');
    if (m.ats) {
      for (const f of await readdir(m.ats.logDir).catch(() => [] as string[])) {
        if (f.endsWith('.log')) out[`ATS ${pod} ${f}`] = await readFile(join(m.ats.logDir, f), 'latin1').catch(() => '');
      }
    }
  }
  const events = await o.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: o.namespace });
  out.events = JSON.stringify(events.items);
  const coreEvents = await o.kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: o.namespace });
  out['core events'] = JSON.stringify(coreEvents.items);
  const sets = await o.kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: o.namespace });
  out['TicketKeySets (status)'] = JSON.stringify(sets);
  return out;
}
