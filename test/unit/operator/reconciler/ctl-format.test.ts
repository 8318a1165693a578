import { describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../../../src/api/index.ts';
import { formatStatus } from '../../../../src/cli/ctl.ts';

describe('tko status table', () => {
  it('shows per pod: generation, ring fingerprint, acknowledged and lag behind the current generation', () => {
    const tks: TicketKeySet = {
      apiVersion: 'ticketkeys.dev/v1alpha1',
      kind: 'TicketKeySet',
      metadata: { name: 'web', namespace: 'edge' },
      spec: { selector: { matchLabels: { app: 'ats' } } },
      status: {
        keyGeneration: 7,
        phase: 'Staging',
        activeKey: { fingerprint: 'a'.repeat(16), createdAt: '2026-11-25T12:00:00.000Z' },
        stagedKey: { fingerprint: 'b'.repeat(16), createdAt: '2026-11-25T13:00:00.000Z' },
        pods: {
          total: 3,
          converged: 1,
          summary: '1/3',
          items: [
            { name: 'ats-2', error: 'agent unreachable' },
            { name: 'ats-1', generation: 5, ringFingerprint: 'c'.repeat(16) },
            { name: 'ats-0', generation: 7, ringFingerprint: 'd'.repeat(16) },
          ],
        },
      },
    };
    const lines = formatStatus(tks).split('\n');
    const header = lines.findIndex((l) => l.startsWith('POD'));
    expect(lines.slice(header + 1, header + 4).map((l) => l.split(/\s{2,}/))).toEqual([
      ['ats-2', '-', '-', 'no', '-', 'agent unreachable'],
      ['ats-1', '5', 'c'.repeat(16), 'no', '2'],
      ['ats-0', '7', 'd'.repeat(16), 'yes', '0'],
    ]);
    expect(lines[1]).toContain('phase:       Staging');
    expect(lines[2]).toContain(`staged key: ${'b'.repeat(16)}`);
  });

  it('shows the ConfigConsistent condition, and each pod\'s config hash and last reload when agents report them', () => {
    const hash = `sha256:${'e'.repeat(64)}`;
    const tks: TicketKeySet = {
      apiVersion: 'ticketkeys.dev/v1alpha1',
      kind: 'TicketKeySet',
      metadata: { name: 'web', namespace: 'edge' },
      spec: { selector: { matchLabels: { app: 'ats' } } },
      status: {
        keyGeneration: 2,
        conditions: [
          { type: 'ConfigConsistent', status: 'False', reason: 'DestIpLinesUsePrivateKeys', message: 'ssl_multicert.config line 2 (dest_ip=10.1.2.3): …', lastTransitionTime: '2026-11-25T12:00:00Z' },
        ],
        pods: {
          total: 2,
          converged: 2,
          summary: '2/2',
          items: [
            { name: 'ats-0', generation: 2, ringFingerprint: 'd'.repeat(16), configHash: hash, lastReloadTime: '2026-11-25T12:01:00.000Z' },
            { name: 'ats-1', generation: 2, ringFingerprint: 'd'.repeat(16) },
          ],
        },
      },
    };
    const lines = formatStatus(tks).split('\n');
    expect(lines).toContain('  ConfigConsistent=False (DestIpLinesUsePrivateKeys): ssl_multicert.config line 2 (dest_ip=10.1.2.3): …');
    const header = lines.findIndex((l) => l.startsWith('POD'));
    expect(lines[header]!.split(/\s{2,}/)).toEqual(['POD', 'GENERATION', 'RING FINGERPRINT', 'ACKNOWLEDGED', 'LAG', 'CONFIG HASH', 'LAST RELOAD', 'ERROR']);
    expect(lines.slice(header + 1, header + 3).map((l) => l.split(/\s{2,}/))).toEqual([
      ['ats-0', '2', 'd'.repeat(16), 'yes', '0', hash.slice(0, 19), '2026-11-25T12:01:00.000Z'],
      ['ats-1', '2', 'd'.repeat(16), 'yes', '0', '-', '-'],
    ]);
  });
});
