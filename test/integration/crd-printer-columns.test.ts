// `kubectl get tks` output: the API server renders the CRD's printer columns into a
// meta.k8s.io Table when asked for one, from the status the operator writes.
import { describe, expect, it } from '@jest/globals';
import { kubeRequest, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { TicketKeySets, ticketKeySet, tksPath } from '../../dev/ticket-key-sets.ts';

const ns = useNamespace('crd-printer');
const kc = testKubeConfig();
const tks = new TicketKeySets(kc, ns.name);
const TABLE = 'application/json;as=Table;g=meta.k8s.io;v=v1';

interface Table {
  kind: string;
  columnDefinitions: Array<{ name: string; type: string; priority?: number }>;
  rows: Array<{ cells: unknown[]; object?: { metadata?: { name?: string } } }>;
}

const EXPECTED_COLUMNS = ['Name', 'Active', 'Generation', 'Converged', 'Phase', 'Last Rotation', 'Next Rotation', 'Ready', 'Age'];

describe('TicketKeySet printer columns', () => {
  it('come back in Table form with the values of spec and status', async () => {
    const created = await tks.create(ticketKeySet('edge', { selector: { matchLabels: { app: 'ats' } } }));
    const now = Date.now();
    const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
    await tks.replaceStatus({
      ...created,
      status: {
        observedGeneration: 1,
        phase: 'Promoting',
        keyGeneration: 7,
        activeKey: { fingerprint: 'fedcba9876543210', createdAt: iso(now - 3600_000), promotedAt: iso(now - 600_000) },
        pods: { total: 3, converged: 2, summary: '2/3' },
        lastRotationTime: iso(now - 600_000),
        nextRotationTime: iso(now + 3600_000),
        conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: iso(now), reason: 'PodsBehind', message: 'ats-2 has not acknowledged' }],
      },
    });

    const res = await kubeRequest(kc, 'GET', tksPath(ns.name), { headers: { Accept: TABLE } });
    expect(res.status).toBe(200);
    const table = res.json<Table>();
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(EXPECTED_COLUMNS);

    expect(table.rows).toHaveLength(1);
    const cells = Object.fromEntries(EXPECTED_COLUMNS.map((name, i) => [name, table.rows[0]?.cells[i]]));
    expect(cells).toMatchObject({
      Name: 'edge',
      Active: 'fedcba9876543210',
      Generation: 7,
      Converged: '2/3',
      Phase: 'Promoting',
      Ready: 'False',
    });
    // Past date columns are rendered as ages ("10m"), the way kubectl prints them; the next
    // rotation lies in the future, so it is shown as the timestamp itself.
    for (const name of ['Last Rotation', 'Age']) expect(cells[name]).toMatch(/^(\d+[smhdy])+$/);
    expect(cells['Next Rotation']).toBe(iso(now + 3600_000));
  });

  it('renders a TicketKeySet without status with empty cells', async () => {
    await tks.create(ticketKeySet('fresh', { selector: { matchLabels: { app: 'ats' } } }));
    const res = await kubeRequest(kc, 'GET', tksPath(ns.name, 'fresh'), { headers: { Accept: TABLE } });
    expect(res.status).toBe(200);
    const table = res.json<Table>();
    const cells = table.rows[0]?.cells ?? [];
    expect(cells[0]).toBe('fresh');
    expect(cells.slice(1, 8).every((cell) => cell === null || cell === '' || cell === '<none>')).toBe(true);
  });
});
