// docs/api.md documents every field of the schema, every printer column and both annotations,
// so the reference cannot silently fall behind the API.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ANNOTATION_REVOKE, ANNOTATION_ROTATE_NOW, LABEL_AGENT_POD, PRINTER_COLUMNS, READINESS_GATE_CONDITION_TYPE } from '../../../src/api/index.ts';
import { allNodes } from './schema-walk.ts';

const doc = readFileSync('docs/api.md', 'utf8');

/** Field paths as the doc spells them: key entries as `<key>.field`, no map/list element nodes. */
function documentedPath(path: string): string | undefined {
  if (!path.startsWith('spec') && !path.startsWith('status')) return undefined;
  if (path.endsWith('[]') || path.endsWith('{}')) return undefined;
  const key = /^status\.(activeKey|stagedKey|retiredKeys\[\])\.(.+)$/.exec(path);
  return key ? `<key>.${key[2]}` : path;
}

describe('docs/api.md', () => {
  it('documents every spec and status field', () => {
    const paths = [...new Set(allNodes().map(([p]) => documentedPath(p)).filter((p): p is string => p !== undefined && p !== 'spec' && p !== 'status'))];
    expect(paths.length).toBeGreaterThan(50);
    expect(paths.filter((p) => !doc.includes(`\`${p}\``))).toEqual([]);
  });

  it('documents every printer column, the annotations and the readiness gate', () => {
    for (const c of PRINTER_COLUMNS) expect(doc).toContain(`| ${c.name} | \`${c.jsonPath}\``);
    for (const name of [ANNOTATION_ROTATE_NOW, ANNOTATION_REVOKE, READINESS_GATE_CONDITION_TYPE, LABEL_AGENT_POD]) expect(doc).toContain(`\`${name}\``);
  });
});
