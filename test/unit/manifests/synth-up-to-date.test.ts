// The committed crds/ and charts/ are exactly what `npm run synth` produces now: change the
// TypeScript source, forget to synth, and this fails (naming the stale or stray files).
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { CHART_CRD_FILE, CRD_FILE, GENERATED_DIRS } from '../../../src/manifests/app.ts';
import { synthesizeTo } from '../../../src/manifests/synth.ts';

const repo = process.cwd();
const fresh = mkdtempSync(join(tmpdir(), 'tko-synth-'));
const written = synthesizeTo(fresh);

afterAll(() => rmSync(fresh, { recursive: true, force: true }));

function filesUnder(root: string, dir: string): string[] {
  const out: string[] = [];
  const visit = (path: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) visit(full);
      else out.push(relative(root, full));
    }
  };
  try {
    visit(join(root, dir));
  } catch {
    return [];
  }
  return out.sort();
}

describe('generated manifests', () => {
  it('writes the CRD to crds/ and to the chart, identical', () => {
    expect(written).toEqual(expect.arrayContaining([CRD_FILE, CHART_CRD_FILE]));
    expect(CRD_FILE).toBe('crds/ticketkeysets.ticketkeys.dev.yaml');
    expect(CHART_CRD_FILE).toBe('charts/ticket-key-operator/crds/ticketkeysets.ticketkeys.dev.yaml');
    expect(readFileSync(join(fresh, CHART_CRD_FILE), 'utf8')).toBe(readFileSync(join(fresh, CRD_FILE), 'utf8'));
  });

  it('synthesises deterministically', () => {
    const again = mkdtempSync(join(tmpdir(), 'tko-synth-'));
    try {
      synthesizeTo(again);
      for (const file of written) expect(readFileSync(join(again, file), 'utf8')).toBe(readFileSync(join(fresh, file), 'utf8'));
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });

  it.each(GENERATED_DIRS)('has no stale, missing or stray file in %s/ (run `npm run synth`)', (dir) => {
    const expected = filesUnder(fresh, dir);
    const committed = filesUnder(repo, dir);
    expect(committed).toEqual(expected);
    const stale = expected.filter((file) => readFileSync(join(repo, file), 'utf8') !== readFileSync(join(fresh, file), 'utf8'));
    expect(stale).toEqual([]);
  });
});
