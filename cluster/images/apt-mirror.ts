// The Debian mirror this machine's apt already uses, read at run time: the repository never names
// a mirror host, and debootstrap fetches from wherever the machine is allowed to reach.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** URIs serving `suite` from deb822 (*.sources) text. */
export function urisFromDeb822(text: string, suite: string): string[] {
  const out: string[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m?.[1] !== undefined) fields.set(m[1].toLowerCase(), m[2] ?? '');
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    const suites = (fields.get('suites') ?? '').split(/\s+/);
    if (fields.get('enabled') === 'no' || !types.includes('deb') || !suites.includes(suite)) continue;
    out.push(...(fields.get('uris') ?? '').split(/\s+/).filter((u) => u !== ''));
  }
  return out;
}

/** URIs serving `suite` from one-line (sources.list) text. */
export function urisFromOneLine(text: string, suite: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const words = raw.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
    if (words[0] === 'deb' && words[2] === suite && words[1] !== undefined) out.push(words[1]);
  }
  return out;
}

/** Every apt source file of the machine that apt itself reads (not *.disabled and the like). */
export async function aptSourceFiles(etcApt = '/etc/apt'): Promise<string[]> {
  const files: string[] = [];
  const main = join(etcApt, 'sources.list');
  if (await readFile(main, 'utf8').then(() => true, () => false)) files.push(main);
  const dir = join(etcApt, 'sources.list.d');
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names.sort()) if (n.endsWith('.sources') || n.endsWith('.list')) files.push(join(dir, n));
  return files;
}

/** The first mirror URI that serves `suite`; throws if apt has none. */
export async function debianMirror(suite: string, etcApt = '/etc/apt'): Promise<string> {
  for (const f of await aptSourceFiles(etcApt)) {
    const text = await readFile(f, 'utf8');
    const uris = f.endsWith('.sources') ? urisFromDeb822(text, suite) : urisFromOneLine(text, suite);
    if (uris[0] !== undefined) return uris[0];
  }
  throw new Error(`no apt source for Debian ${suite} in ${etcApt}/sources.list(.d): debootstrap needs a mirror`);
}
