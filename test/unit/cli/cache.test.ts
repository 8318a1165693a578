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

  describe('with session sharing', () => {
    const hash = 'a'.repeat(64);
    const sharing = (enabled: boolean, n: number) => ({ enabled, configHash: hash, peers: 2, exported: n, sent: 2 * n, received: 3, inserted: 3, dropped: 0, refused: 1 });
    const shared: PodCacheResult[] = [
      { pod: 'ats-0', ok: true, stats: { tracked: 3, hits: 7, removed: 0, flushes: 0, sharing: sharing(true, 5) } },
      { pod: 'ats-1', ok: true, stats: { tracked: 1, hits: 0, removed: 0, flushes: 0 } }, // an agent older than sharing
      { pod: 'ats-2', ok: true, stats: { tracked: 1, hits: 0, removed: 0, flushes: 0, sharing: { ...sharing(true, 1), sent: -1, configHash: 'x' } } },
      { pod: 'ats-3', ok: false, error: 'agent timeout: no answer within 10000 ms' },
    ];

    it('table: per-pod sharing counters, "-" for agents without them, "invalid" for a refused report', () => {
      expect(formatCacheTable('stats', 'ns/web', shared).split('\n')).toEqual([
        'TicketKeySet ns/web: session cache stats on 4 pod(s), 1 failed',
        '',
        'POD    RESULT  TRACKED  HITS  REMOVED  FLUSHES  SHARING  EXPORTED  SENT  RECEIVED  INSERTED  DROPPED  REFUSED  ERROR',
        'ats-0  ok      3        7     0        0        on       5         10    3         3         0        1',
        'ats-1  ok      1        0     0        0        -        -         -     -         -         -        -',
        'ats-2  ok      1        0     0        0        invalid  -         -     -         -         -        -',
        'ats-3  error   -        -     -        -        -        -         -     -         -         -        -        agent timeout: no answer within 10000 ms',
        '',
      ]);
    });

    it('table: no sharing columns while every pod reports sharing off and nothing shared (agents always report it)', () => {
      const idle = { ...sharing(false, 0), received: 0, inserted: 0, refused: 0 };
      const off = [
        { pod: 'ats-0', ok: true as const, stats: { tracked: 1, hits: 1, removed: 0, flushes: 0, sharing: idle } },
        { pod: 'ats-1', ok: true as const, stats: { tracked: 1, hits: 0, removed: 0, flushes: 0, sharing: idle } },
      ];
      expect(formatCacheTable('stats', 'ns/web', off).split('\n')[2]).toBe('POD    RESULT  TRACKED  HITS  REMOVED  FLUSHES  ERROR');
      // Once a pod shared (counters above zero), the columns stay, also with sharing off.
      const before = [off[0]!, { pod: 'ats-1', ok: true as const, stats: { tracked: 1, hits: 0, removed: 0, flushes: 0, sharing: sharing(false, 4) } }];
      expect(formatCacheTable('stats', 'ns/web', before).split('\n')[2]).toContain('SHARING');
    });

    it('json: the validated report, or why it was refused (never the raw values)', () => {
      const doc = cacheJson('stats', { namespace: 'ns', name: 'web' }, shared) as { pods: unknown[] };
      expect(doc.pods).toEqual([
        { pod: 'ats-0', result: 'ok', tracked: 3, hits: 7, removed: 0, flushes: 0, sharing: sharing(true, 5) },
        { pod: 'ats-1', result: 'ok', tracked: 1, hits: 0, removed: 0, flushes: 0 },
        { pod: 'ats-2', result: 'ok', tracked: 1, hits: 0, removed: 0, flushes: 0, sharingError: expect.stringMatching(/^sessionSharing\.configHash/) },
        { pod: 'ats-3', result: 'error', error: 'agent timeout: no answer within 10000 ms' },
      ]);
    });
  });
});
