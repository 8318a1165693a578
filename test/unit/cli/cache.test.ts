// The output of `tko cache flush|stats` (pure formatting; the commands run against real ATS in
// test/e2e/cache-cli.test.ts).
import { describe, expect, it } from '@jest/globals';
import { cacheJson, formatCacheTable, type PodCacheResult } from '../../../src/cli/cache.ts';

const results: PodCacheResult[] = [
  { pod: 'ats-0', ok: true, stats: { tracked: 3, hits: 7, removed: 2, flushes: 1 } },
  { pod: 'ats-1', ok: true, stats: { tracked: 0, removed: 0, flushes: 0 } }, // an older agent: no hits
  { pod: 'ats-2', ok: false, error: 'agent timeout: no answer within 10000 ms' },
];

describe('tko cache output', () => {
  it('table: one row per pod, errors last, "-" where a value is unknown', () => {
    const out = formatCacheTable('flush', 'ns/web', results);
    expect(out.split('\n')).toEqual([
      'TicketKeySet ns/web: session cache flush on 3 pod(s), 1 failed',
      '',
      'POD    RESULT   TRACKED  HITS  REMOVED  FLUSHES  ERROR',
      'ats-0  flushed  3        7     2        1',
      'ats-1  flushed  0        -     0        0',
      'ats-2  error    -        -     -        -        agent timeout: no answer within 10000 ms',
      '',
    ]);
  });

  it('table: no target pods says so', () => {
    expect(formatCacheTable('stats', 'ns/web', [])).toBe('TicketKeySet ns/web: session cache stats on 0 pod(s), 0 failed (no target pods)\n');
  });

  it('json: per-pod result with the stats or the error', () => {
    expect(cacheJson('stats', { namespace: 'ns', name: 'web' }, results)).toEqual({
      ticketKeySet: { namespace: 'ns', name: 'web' },
      action: 'stats',
      pods: [
        { pod: 'ats-0', result: 'ok', tracked: 3, hits: 7, removed: 2, flushes: 1 },
        { pod: 'ats-1', result: 'ok', tracked: 0, removed: 0, flushes: 0 },
        { pod: 'ats-2', result: 'error', error: 'agent timeout: no answer within 10000 ms' },
      ],
    });
  });
});
