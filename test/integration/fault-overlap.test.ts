// Two TicketKeySets whose selectors overlap, on the real API server with real agents: the
// contested pods stay with the older set, the younger one reports SelectorConflict naming the
// pods and the older set, and each contested pod's ring comes from the older set only (no push
// war: sampled from the agents over 25 s while both sets rotate every 10 s, never holding a ring
// the younger set issued). The younger set still rotates its own pod. No key bytes of either set in any log, Event or status.
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TicketKeySet } from '../../src/api/index.ts';
import { GENERATION_ANNOTATION } from '../../src/core/secret-format.ts';
import { KeyScanner, scanSources } from '../helpers/key-scan.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const OLDER = 'a-older';
const YOUNGER = 'b-younger';
const CONTESTED = ['ats-0', 'ats-1'];
/** Selected by the younger set only, and by the older set only. */
const YOUNGER_OWN = 'ats-2';
const OLDER_OWN = 'ats-3';
const sc = useOperatorScenario('fault-overlap', {
  port: PORT,
  pods: [
    ...CONTESTED.map((name, i) => ({ name, ip: `127.0.71.${41 + i}`, labels: { app: 'ov', tier: 'edge' } })),
    { name: YOUNGER_OWN, ip: '127.0.71.43', labels: { tier: 'edge' } },
    { name: OLDER_OWN, ip: '127.0.71.44', labels: { app: 'ov' } },
  ],
  operator: { agentTimeout: '2s' },
});

const spec = (matchLabels: Record<string, string>) => ({ selector: { matchLabels }, rotation: { interval: '10s' }, promotion: { timeout: '3s' }, agent: { port: PORT } });
const condition = (t: TicketKeySet, type: string) => t.status?.conditions?.find((c) => c.type === type);

describe('two TicketKeySets with overlapping selectors', () => {
  it('leaves the contested pods to the older set, reports the conflict in the younger, and never pushes both', async () => {
    const kc = testKubeConfig();
    const keys = new KeyScanner(kc, sc.ns.name, [OLDER, YOUNGER]);
    keys.startCollecting(500);
    try {
      await sc.tks.create(ticketKeySet(OLDER, spec({ app: 'ov' })));
      await untilStatus(sc.tks, OLDER, 'older set on its 3 pods', (t) => t.status?.pods?.converged === 3);
      await sleep(1100); // creationTimestamp has a 1 s resolution: the younger set is really younger
      await sc.tks.create(ticketKeySet(YOUNGER, spec({ tier: 'edge' })));

      const younger = await untilStatus(sc.tks, YOUNGER, 'SelectorConflict on the younger set', (t) => condition(t, 'SelectorConflict')?.status === 'True');
      const message = condition(younger, 'SelectorConflict')!.message;
      for (const pod of CONTESTED) expect(message).toContain(pod);
      expect(message).toContain(OLDER);
      expect(message).not.toContain(YOUNGER_OWN);
      await untilStatus(sc.tks, YOUNGER, 'younger set on its own pod', (t) => t.status?.pods?.converged === 1 && t.status.pods.total === 1);
      expect(condition(await sc.tks.get(OLDER), 'SelectorConflict')?.status).not.toBe('True');

      // 25 s of samples: each contested pod's generation never goes down and never exceeds what
      // the older set issued (a push war re-issues above the other set's generation), it never
      // holds a ring the younger set issued (sampled on the younger set's own pod), and its ring
      // changes no more often than the older set's generation does.
      const seen: Record<string, Array<{ generation: number; ring: string; read: number }>> = Object.fromEntries(CONTESTED.map((p) => [p, []]));
      const clients = Object.fromEntries([...CONTESTED, YOUNGER_OWN].map((p) => [p, sc.fleet.client(p)]));
      const youngerRings = new Set<string>();
      /**
       * What the older set had issued at each sample: its Secret's generation, read after the
       * pods' rings. The operator persists a generation before it pushes it, so a pod can hold
       * no higher one (the status is written after the pushes and can lag under load).
       */
      const olderGenerations: number[] = [];
      const core = testKubeConfig().makeApiClient(CoreV1Api);
      const olderIssued = async () =>
        Number((await core.readNamespacedSecret({ namespace: sc.ns.name, name: `${OLDER}-ticket-keys` })).metadata?.annotations?.[GENERATION_ANNOTATION] ?? 0);
      const until = Date.now() + 25_000;
      let youngerStart = 0;
      let youngerEnd = 0;
      let olderStart = 0;
      let olderEnd = 0;
      const sampleOnce = async () => {
        const rings = await Promise.all(CONTESTED.map(async (pod) => ({ pod, r: await clients[pod]!.getRing() })));
        youngerRings.add((await clients[YOUNGER_OWN]!.getRing()).ats.ringFingerprint);
        const [o, y] = [await sc.tks.get(OLDER), await sc.tks.get(YOUNGER)];
        expect(y.status?.pods?.items?.map((i) => i.name)).toEqual([YOUNGER_OWN]);
        for (const i of y.status?.pods?.items ?? []) if (i.ringFingerprint) youngerRings.add(i.ringFingerprint);
        youngerStart ||= y.status?.keyGeneration ?? 0;
        youngerEnd = y.status?.keyGeneration ?? 0;
        olderStart ||= o.status?.keyGeneration ?? 0;
        olderEnd = o.status?.keyGeneration ?? 0;
        olderGenerations.push(await olderIssued());
        for (const { pod, r } of rings) seen[pod]!.push({ generation: r.ats.generation, ring: r.ats.ringFingerprint, read: olderGenerations.length - 1 });
      };
      while (Date.now() < until) {
        await sampleOnce();
        await sleep(250);
      }
      await sleep(3000);
      await sampleOnce();
      // Both sets really rotated during the sampling.
      expect(olderEnd).toBeGreaterThan(olderStart);
      expect(youngerEnd).toBeGreaterThan(youngerStart);
      for (const pod of CONTESTED) {
        const samples = seen[pod]!;
        const gens = samples.map((s) => s.generation);
        expect(gens).toEqual([...gens].sort((a, b) => a - b));
        expect(samples.filter((s) => s.generation > olderGenerations[s.read]!)).toEqual([]);
        expect(samples.filter((s) => youngerRings.has(s.ring))).toEqual([]);
        const changes = samples.filter((s, i) => i > 0 && s.ring !== samples[i - 1]!.ring).length;
        expect(changes).toBeLessThanOrEqual(olderEnd - olderStart + 1);
        // And what it holds is the older set's ring for it.
        await eventually(`${pod} holds the ring the older set reports for it`, async () => {
          const item = (await sc.tks.get(OLDER)).status?.pods?.items?.find((i) => i.name === pod);
          const r = await clients[pod]!.getRing();
          return item?.ringFingerprint === r.ats.ringFingerprint && item.generation === r.ats.generation ? true : undefined;
        });
      }

      await keys.collect();
      expect(keys.keyCount).toBeGreaterThan(2);
      const leaks = keys.scan(await scanSources({ kc, namespace: sc.ns.name, operator: sc.operator, fleet: sc.fleet }));
      expect(leaks).toEqual([]);
    } finally {
      keys.destroy();
    }
  }, 150_000);

  it('keeps the operator healthy', async () => {
    await eventually('healthz', async () => ((await fetch(`${sc.operator.metricsUrl}/healthz`)).status === 200 ? true : undefined));
  });
});
