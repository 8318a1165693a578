// The YAML files ATS reads (records.yaml, sni.yaml) parsed into nodes that keep their line
// numbers. Every scalar stays text (the failsafe schema), the way yaml-cpp hands values to ATS;
// aliases are followed with a budget of visited nodes so an alias bomb costs bounded work.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit as visitYaml, type Document, type Node } from 'yaml';
import { ConfigUnparseable } from './problems.ts';
import { configText } from './source-text.ts';

/** Nodes visited across a file, aliases included; far above any real configuration. */
export const MAX_YAML_NODES = 200_000;
export const MAX_YAML_DEPTH = 64;
/** Indentation no real configuration reaches; deeper block nesting overflows the YAML library's stack. */
export const MAX_YAML_INDENT = 512;

/**
 * Refuses, before the YAML library sees it, nesting that would overflow its recursive descent:
 * unmatched flow brackets, block indentation, or `- - - …` sequences on one line. Conservative
 * (quotes are not tracked): a real configuration is far from these limits.
 */
function checkNesting(file: string, text: string): void {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text.charCodeAt(i);
    if (i === text.length || c === 10) {
      const content = text.slice(lineStart, i);
      const indent = /^[ \t]*/.exec(content)?.[0].length ?? 0;
      if (indent > MAX_YAML_INDENT) throw new ConfigUnparseable(file, line, `indented more than ${MAX_YAML_INDENT} columns; refused`);
      const dashes = /^[ \t]*(?:-[ \t]+)*/.exec(content)?.[0].split('-').length ?? 1;
      if (dashes - 1 > MAX_YAML_DEPTH) throw new ConfigUnparseable(file, line, `more than ${MAX_YAML_DEPTH} nested list markers; refused`);
      line += 1;
      lineStart = i + 1;
    } else if (c === 91 || c === 123) {
      depth += 1;
      if (depth > MAX_YAML_DEPTH) throw new ConfigUnparseable(file, line, `YAML nested deeper than ${MAX_YAML_DEPTH} levels; refused`);
    } else if ((c === 93 || c === 125) && depth > 0) {
      depth -= 1;
    }
  }
}

export interface YamlSource {
  readonly file: string;
  readonly docs: readonly Document[];
  lineOf(node: Node | null | undefined): number;
  /** Follows an alias to its anchored node (within the budget); other nodes pass through. */
  resolve(node: unknown, doc: Document): Node | null;
  /** Counts one visited node; throws ConfigUnparseable past MAX_YAML_NODES or MAX_YAML_DEPTH. */
  visit(node: Node | null | undefined, depth: number): void;
}

export function parseYamlSource(file: string, content: string | Uint8Array): YamlSource {
  const text = configText(file, content);
  checkNesting(file, text);
  const lineCounter = new LineCounter();
  let parsed: ReturnType<typeof parseAllDocuments>;
  try {
    parsed = parseAllDocuments(text, { lineCounter, schema: 'failsafe', uniqueKeys: false, prettyErrors: false });
  } catch (err) {
    // A backstop: the library throws (stack overflow) on structures the check above let through.
    throw new ConfigUnparseable(file, undefined, `not readable as YAML (${err instanceof Error ? err.name : 'error'})`);
  }
  const docs = Array.isArray(parsed) ? parsed : [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const line = lineCounter.linePos(error.pos[0]).line;
      // The library's message may quote the source line: keep only its first sentence.
      const first = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'syntax error';
      throw new ConfigUnparseable(file, line, `YAML syntax error: ${first.slice(0, 200)}`);
    }
  }
  let visited = 0;
  // Anchors indexed once per document: the library's Alias.resolve searches the whole document
  // on every call, which an alias bomb turns into quadratic work.
  const anchors = new Map<Document, Map<string, Node>>();
  const anchorsOf = (doc: Document): Map<string, Node> => {
    let m = anchors.get(doc);
    if (!m) {
      const found = new Map<string, Node>();
      visitYaml(doc, {
        Node(_key, node) {
          if ((isMap(node) || isSeq(node) || isScalar(node)) && node.anchor && !found.has(node.anchor)) found.set(node.anchor, node);
        },
      });
      m = found;
      anchors.set(doc, m);
    }
    return m;
  };
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  return {
    file,
    docs,
    lineOf,
    resolve(node, doc) {
      if (isAlias(node)) {
        visited += 1;
        return anchorsOf(doc).get(node.source) ?? null;
      }
      return isMap(node) || isSeq(node) || isScalar(node) ? node : null;
    },
    visit(node, depth) {
      visited += 1;
      if (visited > MAX_YAML_NODES) throw new ConfigUnparseable(file, lineOf(node), `more than ${MAX_YAML_NODES} YAML nodes (aliases included); refused`);
      if (depth > MAX_YAML_DEPTH) throw new ConfigUnparseable(file, lineOf(node), `YAML nested deeper than ${MAX_YAML_DEPTH} levels; refused`);
    },
  };
}

/** A scalar's text, or null for YAML's null forms (~, null, empty), as yaml-cpp types them. */
export function scalarText(node: Node | null): string | null {
  if (!isScalar(node)) return null;
  const value = String(node.value);
  if (node.type === 'PLAIN' && /^(?:~|null|Null|NULL|)$/.test(value)) return null;
  return value;
}
