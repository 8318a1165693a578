import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { coreDumpsPossible, parseCoreFileLimit, warnIfCoreDumpsEnabled } from '../../../src/agent/core-dump-guard.ts';
import { capturedLogger } from './fixtures.ts';

const run = promisify(execFile);

const limits = (soft: string, hard = 'unlimited') =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max file size             unlimited            unlimited            bytes     ',
    `Max core file size        ${soft.padEnd(20)} ${hard.padEnd(20)} bytes     `,
    'Max open files            1048576              1048576              files     ',
  ].join('\n');

describe('parseCoreFileLimit', () => {
  it.each([
    ['0', 0],
    ['unlimited', 'unlimited'],
    ['4096', 4096],
  ] as const)('reads the soft limit %s', (soft, expected) => {
    expect(parseCoreFileLimit(limits(soft))).toBe(expected);
  });

  it('is undefined when the line is missing or garbled', () => {
    expect(parseCoreFileLimit('Max open files 1 1 files')).toBeUndefined();
    expect(parseCoreFileLimit(limits('-3'))).toBeUndefined();
  });

  it('counts only 0 as off (an unreadable limit is not proof)', () => {
    expect([0, 1, 'unlimited', undefined].map((l) => coreDumpsPossible(l as never))).toEqual([false, true, true, true]);
  });
});

describe('warnIfCoreDumpsEnabled', () => {
  it('warns once when core dumps are on or unknown, and stays quiet when they are off', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tko-limits-'));
    try {
      const cases = [
        ['0', 0],
        ['unlimited', 1],
        ['1024', 1],
      ] as const;
      for (const [soft, warnings] of cases) {
        const file = join(dir, `limits-${soft}`);
        await writeFile(file, limits(soft, 'unlimited'));
        const { logger, lines } = capturedLogger();
        warnIfCoreDumpsEnabled(logger, file);
        expect(lines.filter((l) => l.includes('core dumps are not off')).length).toBe(warnings);
      }
      const { logger, lines } = capturedLogger();
      expect(warnIfCoreDumpsEnabled(logger, join(dir, 'missing'))).toBeUndefined();
      expect(lines.join('\n')).toContain('unreadable');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('tko_agent_core_dumps_enabled', () => {
  // A child process per limit: the gauge reads the real /proc/self/limits of the process.
  const metricsModule = pathToFileURL(join(process.cwd(), 'src/agent/metrics.ts')).href;
  const script = `const { AgentMetrics } = await import(${JSON.stringify(metricsModule)});
    const text = await new AgentMetrics().registry.metrics();
    process.stdout.write(/^tko_agent_core_dumps_enabled (\\S+)$/m.exec(text)?.[1] ?? 'missing');`;
  const gauge = async (ulimit: string): Promise<string> =>
    (await run('/bin/sh', ['-c', `ulimit -S -c ${ulimit} && exec "$0" --input-type=module -e "$1"`, process.execPath, script])).stdout;

  it('is 0 under `ulimit -c 0` and 1 when a core file could be written', async () => {
    expect(await gauge('0')).toBe('0');
    const hard = (await run('/bin/sh', ['-c', 'ulimit -H -c'])).stdout.trim();
    if (hard !== '0') expect(await gauge(hard === 'unlimited' ? '4096' : hard)).toBe('1');
  });
});
