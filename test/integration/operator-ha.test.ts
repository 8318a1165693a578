// Two operator replicas behind one Lease (short settings): only the leader rotates, one
// rotation per period; SIGKILL of the leader hands over to the standby (which kept warm caches)
// after the lease expires, and the next rotation completes exactly once. (ticketLifetime is long
// enough that no retired key expires during the test: every ring change is a rotation.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { Fleet } from '../../dev/fleet.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { recordMeasurement } from '../helpers/ats.ts';
import { spawnOperator, type SpawnedOperator } from '../../dev/operator-process.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const ns = useNamespace('operator-ha');
const PORT = 19443;
const LEASE = { name: 'tko-test', durationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 };
let fleet: Fleet;
let tks: TicketKeySets;
const replicas: SpawnedOperator[] = [];

const holder = async () =>
  (await testKubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: ns.name, name: LEASE.name })).spec?.holderIdentity ?? '';
const count = async (reason: string) =>
  (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).filter((e) => e.reason === reason).reduce((n, e) => n + e.count, 0);
const spawnReplica = async (identity: string) => {
  const op = await spawnOperator({ certs: fleet.files, namespaces: [ns.name], leaderElect: true, identity, lease: { namespace: ns.name, ...LEASE } });
  replicas.push(op);
  return op;
};

beforeAll(async () => {
  const kc = testKubeConfig();
  tks = new TicketKeySets(kc, ns.name);
  fleet = await Fleet.create({ kc, namespace: ns.name, port: PORT });
  for (const [i, name] of ['ats-0', 'ats-1'].entries()) await fleet.add(name, { ip: `127.0.0.${171 + i}`, labels: { app: 'ha' } });
}, 60_000);

afterAll(async () => {
  for (const op of replicas) await op.stop();
  await fleet?.close();
});

describe('operator: two replicas, one leader', () => {
  let leader: SpawnedOperator;
  let firstActive = '';

  it('elects one leader; only it rotates, once per period', async () => {
    leader = await spawnReplica('op-a');
    await eventually('op-a leads', async () => ((await holder().catch(() => '')) === 'op-a' ? true : undefined));
    await spawnReplica('op-b');
    await tks.create(
      ticketKeySet('web', { selector: { matchLabels: { app: 'ha' } }, rotation: { interval: '10s' }, ticketLifetime: '1m', promotion: { timeout: '3s' }, agent: { port: PORT } }),
    );
    const first = await eventually('first ring', async () => {
      const t = await tks.get('web');
      return t.status?.pods?.converged === 2 ? t : undefined;
    });
    firstActive = first.status!.activeKey!.fingerprint;
    const rotated = await eventually(
      'one scheduled rotation',
      async () => {
        const t = await tks.get('web');
        return t.status?.phase === 'Stable' && t.status.activeKey?.fingerprint !== firstActive && t.status.pods?.converged === 2 ? t : undefined;
      },
      30_000,
    );
    expect(rotated.status?.keyGeneration).toBe(first.status!.keyGeneration! + 2);
    expect(await count('KeyStaged')).toBe(1);
    expect(await count('KeyPromoted')).toBe(1);
    expect(await holder()).toBe('op-a');
    // The standby never wrote: every Event was reported by the leader.
    const events = await ticketKeySetEvents(testKubeConfig(), ns.name, 'web');
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.reportingInstance))).toEqual(new Set(['op-a']));
  });

  it('hands over after the leader is SIGKILLed, and the next rotation completes once', async () => {
    const before = await tks.get('web');
    const killedAt = Date.now();
    await leader.kill();
    await eventually('op-b leads', async () => ((await holder()) === 'op-b' ? true : undefined), 30_000);
    await recordMeasurement('operator.json', 'leaderHandoverAfterSigkillMs', Date.now() - killedAt);
    const next = await eventually(
      'the next rotation by the new leader',
      async () => {
        const t = await tks.get('web');
        return t.status?.phase === 'Stable' && t.status.activeKey?.fingerprint !== before.status?.activeKey?.fingerprint && t.status.pods?.converged === 2 ? t : undefined;
      },
      40_000,
    );
    expect(next.status?.keyGeneration).toBe(before.status!.keyGeneration! + 2);
    expect(await count('KeyStaged')).toBe(2);
    expect(await count('KeyPromoted')).toBe(2);
    for (const name of ['ats-0', 'ats-1']) expect((await fleet.client(name).getRing()).ats.generation).toBe(next.status?.keyGeneration);
    const staged = (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).filter((e) => e.reason === 'KeyStaged');
    expect(staged.map((e) => e.reportingInstance)).toEqual(['op-a', 'op-b']);
  });
});

describe('operator: SIGTERM releases the Lease', () => {
  it('a replica stopped politely exits 0 and a standby takes over without waiting out the lease', async () => {
    const current = replicas.find((r) => r.isRunning())!;
    expect(await holder()).toBe('op-b');
    await spawnReplica('op-c');
    const stoppedAt = Date.now();
    await current.stop();
    expect((await current.exited).code).toBe(0);
    await eventually('op-c leads', async () => ((await holder()) === 'op-c' ? true : undefined), 30_000);
    await recordMeasurement('operator.json', 'leaderHandoverAfterSigtermMs', Date.now() - stoppedAt);
    const before = await tks.get('web');
    const next = await eventually(
      'a rotation by op-c',
      async () => {
        const t = await tks.get('web');
        return t.status?.phase === 'Stable' && t.status.activeKey?.fingerprint !== before.status?.activeKey?.fingerprint ? t : undefined;
      },
      40_000,
    );
    expect(next.status?.keyGeneration).toBe(before.status!.keyGeneration! + 2);
    const staged = (await ticketKeySetEvents(testKubeConfig(), ns.name, 'web')).filter((e) => e.reason === 'KeyStaged');
    expect(staged.at(-1)?.reportingInstance).toBe('op-c');
  });
});
