// records.yaml, the ATS 10 records file: a `records:` mapping whose nested keys join with dots
// under "proxy.config" (src/records/RecYAMLDecoder.cc, 10.x: records.diags.debug.enabled is
// proxy.config.diags.debug.enabled; a key may itself contain dots). Later documents in the
// stream override earlier ones. Before ATS 10.0 was released the root key was `ts:`; a file
// with only `ts:` is read too, with a problem saying released versions ignore it.
import { isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import { ConfigUnparseable, LineProblems } from './problems.ts';
import type { AtsRecord, RecordsFile, RecordType } from './records.ts';
import { parseYamlSource, scalarText, type YamlSource } from './yaml-documents.ts';

const PREFIX = 'proxy.config';
const TAG_TYPES: Readonly<Record<string, RecordType>> = {
  'tag:yaml.org,2002:int': 'INT',
  'tag:yaml.org,2002:bool': 'INT',
  'tag:yaml.org,2002:float': 'FLOAT',
  'tag:yaml.org,2002:str': 'STRING',
};

export function parseRecordsYaml(content: string | Uint8Array, file = 'records.yaml'): RecordsFile {
  const src = parseYamlSource(file, content);
  const records = new Map<string, AtsRecord>();
  const problems = new LineProblems();
  let sawRoot = false;

  const flatten = (doc: Document, name: string, value: Node | null, depth: number): void => {
    src.visit(value, depth);
    const node = src.resolve(value, doc);
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = src.resolve(pair.key, doc);
        if (!isScalar(key)) {
          problems.add(src.lineOf(node), `a key under ${name} is not a plain name; ATS cannot read it`);
          continue;
        }
        flatten(doc, `${name}.${String(key.value)}`, pair.value as Node | null, depth + 1);
      }
    } else if (isSeq(node)) {
      problems.add(src.lineOf(node), `${name} is a list; records take a single value`);
    } else {
      const tag = isScalar(node) ? node.tag : undefined;
      const type = tag === undefined ? undefined : TAG_TYPES[tag];
      const line = node ? src.lineOf(node) : src.lineOf(value);
      records.set(name, { name, value: scalarText(node), line, ...(type ? { type } : {}) });
    }
  };

  const readRoot = (doc: Document, rootKey: string): boolean => {
    if (!isMap(doc.contents)) return false;
    const root = doc.contents.items.find((p) => isScalar(p.key) && p.key.value === rootKey);
    if (!root) return false;
    const value = src.resolve(root.value, doc);
    if (!isMap(value)) throw new ConfigUnparseable(file, src.lineOf(root.value as Node | null), `\`${rootKey}:\` must be a mapping of settings`);
    flatten(doc, PREFIX, value, 0);
    return true;
  };

  for (const doc of src.docs) {
    if (doc.contents !== null && !isMap(doc.contents)) {
      throw new ConfigUnparseable(file, src.lineOf(doc.contents as Node), 'expected a mapping with a `records:` key at the top');
    }
    sawRoot = readRoot(doc, 'records') || sawRoot;
  }
  if (!sawRoot) {
    for (const doc of src.docs) {
      if (readRoot(doc, 'ts')) {
        sawRoot = true;
        problems.add(rootLine(src, doc, 'ts'), 'the root key `ts:` is from ATS 10 pre-releases; ATS 10.0 and later read only `records:` and ignore these settings');
      }
    }
  }
  if (!sawRoot && src.docs.some((d) => d.contents !== null)) {
    throw new ConfigUnparseable(file, 1, 'no `records:` mapping at the top; ATS would use its defaults for every setting');
  }
  return { file, format: 'records.yaml', records, problems: problems.kept, moreProblems: problems.dropped };
}

function rootLine(src: YamlSource, doc: Document, key: string): number {
  const pair = isMap(doc.contents) ? doc.contents.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
  return src.lineOf(pair?.key as Node | undefined);
}
