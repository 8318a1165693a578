// sni.yaml: a top-level `sni:` list of entries, each matched by `fqdn` and carrying options for
// connections with that server name. ATS 9.2's keys (fqdn, ip_allow, verify_*, host_sni_policy,
// valid_tls_versions_in, client_*, tunnel_route, forward_route, partial_blind_route,
// tunnel_alpn) include none about tickets; ATS 10 adds `ssl_ticket_enabled` and
// `ssl_ticket_number`, per-name overrides of proxy.config.ssl.server.session_ticket.enable and
// .number (doc/admin-guide/files/sni.yaml.en.rst on each branch). Those are reported.
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { ConfigUnparseable, LineProblems, type LineProblem } from './problems.ts';
import { parseYamlSource, scalarText } from './yaml-documents.ts';

export const SNI_TICKET_KEYS = ['ssl_ticket_enabled', 'ssl_ticket_number'] as const;
export type SniTicketKey = (typeof SNI_TICKET_KEYS)[number];

export interface SniEntry {
  readonly line: number;
  /** Undefined when the entry has none (ATS 10 allows inbound_port_ranges alone). */
  readonly fqdn?: string;
  /** Every key of the entry, scalar values as text; nested values as null. */
  readonly options: ReadonlyMap<string, string | null>;
}

export interface SniTicketOption {
  readonly line: number;
  readonly fqdn: string;
  readonly key: SniTicketKey;
  readonly value: string | null;
}

export interface SniYamlFile {
  readonly file: string;
  readonly entries: readonly SniEntry[];
  /** Entries that change ticket issuance for their server names. */
  readonly ticketOptions: readonly SniTicketOption[];
  readonly problems: readonly LineProblem[];
  readonly moreProblems: number;
}

export function parseSniYaml(content: string | Uint8Array, file = 'sni.yaml'): SniYamlFile {
  const src = parseYamlSource(file, content);
  const entries: SniEntry[] = [];
  const ticketOptions: SniTicketOption[] = [];
  const problems = new LineProblems();
  const doc = src.docs[0];
  if (!doc || doc.contents === null) return { file, entries, ticketOptions, problems: [], moreProblems: 0 };
  if (src.docs.length > 1) problems.add(src.lineOf(src.docs[1]?.contents as Node | null), 'ATS reads only the first YAML document; the rest is ignored');
  const root = src.resolve(doc.contents, doc);
  const sniPair = isMap(root) ? root.items.find((p) => isScalar(p.key) && p.key.value === 'sni') : undefined;
  if (!sniPair) throw new ConfigUnparseable(file, src.lineOf(root), 'expected a top-level `sni:` list');
  const list = src.resolve(sniPair.value, doc);
  if (!isSeq(list)) throw new ConfigUnparseable(file, src.lineOf((sniPair.value as Node | null) ?? (sniPair.key as Node)), '`sni:` must be a list of entries');

  for (const item of list.items) {
    src.visit(item as Node, 1);
    const entry = src.resolve(item, doc);
    if (!isMap(entry)) {
      problems.add(src.lineOf(entry ?? (item as Node)), 'an `sni:` item is not a mapping of options');
      continue;
    }
    const options = new Map<string, string | null>();
    for (const pair of entry.items) {
      src.visit(pair.value as Node | null, 2);
      const key = src.resolve(pair.key, doc);
      if (!isScalar(key)) {
        problems.add(src.lineOf(entry), 'an option name is not a plain name');
        continue;
      }
      const value = src.resolve(pair.value, doc);
      options.set(String(key.value), isScalar(value) ? scalarText(value) : null);
    }
    const line = src.lineOf(entry);
    const fqdn = options.get('fqdn') ?? undefined;
    entries.push({ line, options, ...(fqdn === undefined ? {} : { fqdn }) });
    for (const key of SNI_TICKET_KEYS) {
      if (options.has(key)) ticketOptions.push({ line, fqdn: fqdn ?? '(no fqdn)', key, value: options.get(key) ?? null });
    }
  }
  return { file, entries, ticketOptions, problems: problems.kept, moreProblems: problems.dropped };
}
