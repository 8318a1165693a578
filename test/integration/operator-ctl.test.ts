// `tko status`, `tko rotate` and `tko revoke` as a user runs them (real CLI processes) against
// the test bed, with a real operator acting on the annotations they set.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ANNOTATION_REVOKE, ANNOTATION_ROTATE_NOW } from '../../src/api/names.ts';
import { Fleet } from '../../dev/fleet.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { spawnOperator, type SpawnedOperator } from '../../dev/operator-process.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const run = promisify(execFile);
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.ts');
const ns = useNamespace('operator-ctl');
const PORT = 19443;
let fleet: Fleet;
let operator: SpawnedOperator;
let tks: TicketKeySets;

const tko = async (...args: string[]) => (await run(process.execPath, [MAIN, ...args, '-n', ns.name, '--kubeconfig', process.env.TKO_TEST_KUBECONFIG!])).stdout;

beforeAll(async () => {
  const kc = testKubeConfig();
  tks = new TicketKeySets(kc, ns.name);
  fleet = await Fleet.create({ kc, namespace: ns.name, port: PORT });
  await fleet.add('ats-0', { ip: '127.0.0.161', labels: { app: 'ctl' } });
  await fleet.add('ats-1', { ip: '127.0.0.162', labels: { app: 'ctl' } });
  operator = await spawnOperator({ certs: fleet.files, namespaces: [ns.name] });
  await tks.create(ticketKeySet('web', { selector: { matchLabels: { app: 'ctl' } }, rotation: { interval: '1h' }, promotion: { timeout: '3s' }, agent: { port: PORT } }));
  await eventually('first ring', async () => ((await tks.get('web')).status?.pods?.converged === 2 ? true : undefined));
}, 60_000);

afterAll(async () => {
  await operator?.stop();
  await fleet?.close();
});

describe('tko status / rotate / revoke', () => {
  it('status prints a per-pod table: generation, ring fingerprint, acknowledged, lag', async () => {
    const t = await tks.get('web');
    const out = await tko('status', 'web');
    const lines = out.split('\n');
    const header = lines.findIndex((l) => l.startsWith('POD'));
    expect(lines[header]).toMatch(/^POD\s+GENERATION\s+RING FINGERPRINT\s+ACKNOWLEDGED\s+LAG/);
    const rows = lines.slice(header + 1, header + 3).map((l) => l.trim().split(/\s+/));
    const ringFp = t.status!.pods!.items![0]!.ringFingerprint!;
    expect(rows).toEqual([
      ['ats-0', String(t.status!.keyGeneration), ringFp, 'yes', '0'],
      ['ats-1', String(t.status!.keyGeneration), ringFp, 'yes', '0'],
    ]);
    expect(out).toContain(`active key:  ${t.status!.activeKey!.fingerprint}`);
  });

  it('status shows a pod that fell behind as not acknowledged, with its lag', async () => {
    await fleet.stopAgent('ats-1');
    try {
      const before = (await tks.get('web')).status!.keyGeneration!;
      await tko('rotate', 'web');
      await eventually('staged on ats-0 only', async () => {
        const t = await tks.get('web');
        return t.status?.phase === 'Staging' && t.status.pods?.items?.[0]?.error !== undefined ? true : undefined;
      });
      const out = await tko('status', 'web');
      const row = (name: string) => out.split('\n').find((l) => l.startsWith(`${name} `))!.trim().split(/\s+/);
      // ats-1 is shown with the ring it was last seen holding.
      expect(row('ats-1').slice(1, 5)).toEqual([String(before), expect.stringMatching(/^[0-9a-f]{16}$/), 'no', '1']);
      expect(row('ats-0').slice(1, 5)).toEqual([String(before + 1), expect.stringMatching(/^[0-9a-f]{16}$/), 'yes', '0']);
    } finally {
      await fleet.startAgent('ats-1');
    }
  });

  it('rotate sets rotate-now and the operator rotates once', async () => {
    await eventually('previous rotation done', async () => ((await tks.get('web')).status?.phase === 'Stable' ? true : undefined), 45_000);
    const before = await tks.get('web');
    const out = await tko('rotate', 'web');
    const value = (await tks.get('web')).metadata.annotations?.[ANNOTATION_ROTATE_NOW];
    expect(out).toContain(`rotation requested for ${ns.name}/web (${value})`);
    const after = await eventually('rotated', async () => {
      const t = await tks.get('web');
      return t.status?.phase === 'Stable' && t.status.activeKey?.fingerprint !== before.status?.activeKey?.fingerprint ? t : undefined;
    });
    expect(after.status?.keyGeneration).toBe(before.status!.keyGeneration! + 2);
  });

  it('revoke sets the revoke annotation and the operator replaces every key', async () => {
    const before = await tks.get('web');
    const out = await tko('revoke', 'web');
    const value = (await tks.get('web')).metadata.annotations?.[ANNOTATION_REVOKE];
    expect(out).toContain(`revoke requested for ${ns.name}/web (${value})`);
    const after = await eventually('revoked', async () => {
      const t = await tks.get('web');
      return t.status?.phase === 'Stable' && t.status.keyGeneration! > before.status!.keyGeneration! ? t : undefined;
    });
    expect(after.status?.retiredKeys).toEqual([]);
    expect(after.status?.activeKey?.fingerprint).not.toBe(before.status?.activeKey?.fingerprint);
    const revoked = (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).find((e) => e.reason === 'KeysRevoked');
    expect(revoked?.type).toBe('Warning');
  });
});

describe('tko schedule', () => {
  it('reads a live TicketKeySet and prints its next rotations in its zone; a missing one is a clear error', async () => {
    await tks.create(
      ticketKeySet('nightly', { selector: { matchLabels: { app: 'none' } }, rotation: { schedule: '30 2 * * *', timeZone: 'Europe/Berlin' }, agent: { port: PORT } }),
    );
    const out = await tko('schedule', 'nightly', '-c', '3');
    expect(out).toContain('schedule: 30 2 * * *   time zone: Europe/Berlin');
    // Three daily slots at 02:30 Berlin time (CET or CEST).
    expect(out.match(/^ {2}\w{3} \d{4}-\d\d-\d\d 02:30 GMT\+[12] /gm)).toHaveLength(3);
    const missing = await tko('schedule', 'absent').then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(missing?.code).not.toBe(0);
    expect(missing?.stderr).toContain('absent');
  });
});
