// Fault injection, ATS crash: three pods with real ATS and real agents, a real operator, a TLS
// client resuming round-robin across the three throughout. While a new key is staged (before
// it is promoted), one pod's traffic_server is SIGKILLed; traffic_manager (its supervisor)
// starts it again with no ring at all. The agent re-asserts the ring it accepted, the pod
// converges, the rotation completes, and no generation goes backwards on any pod (a
// traffic_server restart starts from nothing; from there on generations only grow).
// Resumptions on the other two pods (tickets they issued) never fail; once the pod converged
// again, none fails anywhere. At the end no key bytes in any log, Event or status.
import { afterAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TicketKeySet } from '../../src/api/index.ts';
import { FaultObservers } from '../helpers/fault-observers.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { isReady, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { storedKeys, storedRing } from '../../dev/operator-records.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const TLS_PORT = 18443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const KILLED = 'ats-0';
const OTHERS = PODS.filter((p) => p !== KILLED);
const sc = useOperatorScenario('fault-ats-kill', {
  port: PORT,
  pods: PODS.map((name, i) => ({ name, ip: `127.0.70.${21 + i}`, labels: { app: 'kill' }, ats: true, tlsPort: TLS_PORT })),
  operator: { agentTimeout: '3s' },
  ticketKeySet: ticketKeySet('web', {
    selector: { matchLabels: { app: 'kill' } },
    rotation: { interval: '10s' },
    ticketLifetime: '2m',
    promotion: { timeout: '5s' },
    agent: { port: PORT },
  }),
  setupTimeoutMs: 120_000,
  teardownTimeoutMs: 60_000,
});

let obs: FaultObservers;
afterAll(async () => {
  await obs?.stop();
  obs?.keys.destroy();
});

const untilStable = (what: string, extra: (t: TicketKeySet) => boolean = () => true, timeoutMs = 90_000) =>
  eventually(
    what,
    async () => {
      const t = await sc.tks.get('web');
      return t.status?.phase === 'Stable' && isReady(t, '3/3') && extra(t) ? t : undefined;
    },
    timeoutMs,
  );

describe('fault injection: ATS killed mid-promotion and restarted by its supervisor', () => {
  let convergedAgainAt = 0;

  it('starts the observers once the first ring is on every pod', async () => {
    await untilStable('the first ring on every pod');
    obs = new FaultObservers({ sc, kc: testKubeConfig(), name: 'web', pods: PODS, tlsPort: TLS_PORT });
    obs.start();
  }, 100_000);

  it('the agent re-asserts after the crash, the pod converges and the rotation completes', async () => {
    const ats = sc.fleet.get(KILLED).ats!;
    const kc = testKubeConfig();
    // Catch the staged phase in the owned Secret (polled every 20 ms: the status is written only
    // at the end of a reconcile, after the promotion); a rotation missed is retried on the next one.
    let staged: { fingerprint: string; generation: number } | undefined;
    for (let attempt = 0; attempt < 4 && !staged; attempt++) {
      const before = await untilStable('Stable 3/3 before the kill');
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !staged) {
        const ring = await storedRing(kc, sc.ns.name, 'web');
        if (ring && ring.phase === 'Staging' && ring.generation > before.status!.keyGeneration!) {
          const stored = await storedKeys(kc, sc.ns.name, 'web');
          const key = stored.phase === 'Staging' ? stored.keys.find((k) => k.state === 'staged') : undefined;
          if (key) staged = { fingerprint: key.fingerprint, generation: stored.generation };
          else break; // promoted meanwhile
        }
        await sleep(20);
      }
    }
    expect(staged).toBeDefined();
    const stagedFp = staged!.fingerprint;
    const startBefore = obs.rings.latest(KILLED)!.atsStartTime;
    await ats.killProxy(); // SIGKILL traffic_server; resolves once traffic_manager restarted it
    // A new traffic_server, and the agent put the ring back into it.
    const back = await eventually(
      'the agent re-asserted into the new traffic_server',
      async () => {
        const s = (await obs.rings.sampleNow()).find((x) => x.pod === KILLED);
        return s && s.atsStartTime !== startBefore && s.generation >= staged!.generation ? s : undefined;
      },
      60_000,
    );
    expect(back.generation).toBeGreaterThan(0);
    // The restart takes about as long as the rotation interval, so the next rotation may already
    // be staged when this key is promoted: the phase then goes Promoting -> Staging without a
    // Stable in between. Promoted means active or retired, and every pod past its generation.
    const promoted = (t: TicketKeySet) =>
      (t.status?.keyGeneration ?? 0) > staged!.generation &&
      (t.status?.activeKey?.fingerprint === stagedFp || (t.status?.retiredKeys ?? []).some((k) => k.fingerprint === stagedFp));
    const done = await untilStable('the staged key promoted and on every pod', promoted).catch(async (err: unknown) => {
      // What the operator and each ATS showed when it gave up (fingerprints and generations only).
      const t = await sc.tks.get('web');
      const { phase, keyGeneration, activeKey, conditions, pods } = t.status ?? {};
      const samples = (await obs.rings.sampleNow()).map(({ pod, generation, acceptedGeneration, atsStartTime }) => ({ pod, generation, acceptedGeneration, atsStartTime }));
      console.log(`not converged: ${JSON.stringify({ staged, phase, keyGeneration, activeKey, conditions, pods: pods?.items, samples })}`);
      throw err;
    });
    convergedAgainAt = Date.now();
    for (const s of await obs.rings.sampleNow()) expect(s.generation).toBeGreaterThanOrEqual(done.status!.keyGeneration!);
    // And the next rotation goes through as usual.
    await untilStable('one more rotation', (t) => (t.status?.keyGeneration ?? 0) > done.status!.keyGeneration!);
  }, 240_000);

  it('lost nothing on the way', async () => {
    await sleep(3000); // sessions issued before the re-assert are out of the chains by now
    await obs.stop();
    expect(obs.rings.regressions()).toEqual([]);
    expect(obs.status.violations()).toEqual([]);
    expect(obs.client.failed({ pods: OTHERS })).toEqual([]);
    expect(obs.client.failed({ since: convergedAgainAt + 3000 })).toEqual([]);
    expect(obs.client.counts().resumed).toBeGreaterThan(100);
    expect(await obs.keyLeaks()).toEqual([]);
  }, 60_000);
});
