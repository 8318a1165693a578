// Fifty black-holed pods (a TCP listener that accepts and never answers, one per pod IP) next to
// two pods with real agents, under one TicketKeySet: the healthy pods converge and keep rotating,
// the operator's /healthz stays 200 throughout (sampled), and the status names the unreachable
// pods in a bounded list, backing off (the per-pod circuit breaker) instead of dialling them on
// every call. The black-holed pods are not Ready, so they never block a promotion (fail open);
// they are still targets, asked every reconcile, which is what would starve the others.
import { afterAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type Socket } from 'node:net';
import { MAX_POD_STATUS_ITEMS } from '../../src/api/status.ts';
import { eventually } from '../helpers/kube.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19460;
const HOLES = 50;
/** Sorted before the healthy pods: the fan-out reaches them first. */
const holeName = (i: number) => `a-hole-${String(i).padStart(2, '0')}`;
const holeIp = (i: number) => `127.0.60.${1 + i}`;

const sc = useOperatorScenario('operator-blackhole', {
  port: PORT,
  pods: [
    { name: 'web-0', ip: '127.0.60.101', labels: { app: 'bh' } },
    { name: 'web-1', ip: '127.0.60.102', labels: { app: 'bh' } },
  ],
  setupTimeoutMs: 90_000,
});

/** Accepts connections on every hole IP and never sends a byte. */
const servers: Server[] = [];
const held = new Set<Socket>();
async function startBlackHoles(): Promise<void> {
  for (let i = 0; i < HOLES; i++) {
    const server = createServer((socket) => {
      held.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => held.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(PORT, holeIp(i), () => resolve());
    });
    servers.push(server);
  }
}

/** GET /healthz every 500 ms until stopped: every status seen. */
function sampleHealth(url: string): { stop(): Promise<Array<number | string>> } {
  const seen: Array<number | string> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const res = await fetch(`${url}/healthz?verbose`, { signal: AbortSignal.timeout(5_000) });
        seen.push(res.status === 200 ? 200 : `${res.status}: ${await res.text()}`);
      } catch (err) {
        seen.push(`no answer: ${err instanceof Error ? err.message : String(err)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

afterAll(async () => {
  for (const s of held) s.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('operator: black-holed pods neither starve the healthy ones nor trip liveness', () => {
  it('rotates the healthy pods, stays live, and names the unreachable pods as backing off', async () => {
    await startBlackHoles();
    for (let i = 0; i < HOLES; i++) await sc.fleet.pods.create({ name: holeName(i), ip: holeIp(i), labels: { app: 'bh' }, containersReady: false });
    const health = sampleHealth(sc.operator.metricsUrl);
    let samples: Array<number | string> = [];
    try {
      await sc.tks.create(
        ticketKeySet('web', {
          selector: { matchLabels: { app: 'bh' } },
          rotation: { interval: '12s' },
          ticketLifetime: '10s',
          promotion: { timeout: '5s' },
          agent: { port: PORT },
        }),
      );
      const first = await untilStatus(sc.tks, 'web', 'first ring on the 2 healthy pods', (t) => t.status?.pods?.converged === 2 && t.status.phase === 'Stable' && !!t.status.activeKey, 90_000);
      // Keeps rotating: two more active keys, each promoted on the healthy pods.
      const actives = new Set([first.status!.activeKey!.fingerprint]);
      const latest = await untilStatus(
        sc.tks,
        'web',
        'two more completed rotations',
        (t) => {
          if (t.status?.phase === 'Stable' && t.status.activeKey && t.status.pods?.converged === 2) actives.add(t.status.activeKey.fingerprint);
          return actives.size >= 3;
        },
        120_000,
      );
      for (const name of ['web-0', 'web-1']) expect((await sc.fleet.client(name).getRing()).ats.generation).toBeGreaterThanOrEqual(latest.status!.keyGeneration!);

      // The status names the unreachable pods, within its bound, as backing off.
      let last: unknown;
      const status = await eventually('the holes reported as backing off', async () => {
        const s = (await sc.tks.get('web')).status;
        last = s;
        const items = s?.pods?.items ?? [];
        const holes = items.filter((p) => p.name.startsWith('a-hole-'));
        // Every hole is reported unreachable; only the few probed in the last reconcile (at most
        // 4 probes in flight, in the read and in the push) were dialled, the rest fail fast.
        const backingOff = holes.filter((p) => /^(agent )?unreachable:? \(?backing off until /.test(p.error ?? ''));
        const dialled = holes.filter((p) => /timeout: .* no answer within/.test(p.error ?? '') && !backingOff.includes(p));
        return holes.length === HOLES && backingOff.length + dialled.length === HOLES && dialled.length <= 8 ? s : undefined;
      }, 60_000).catch((err: unknown) => {
        console.log(JSON.stringify(last, null, 1));
        throw err;
      });
      expect(status?.pods?.total).toBe(HOLES + 2);
      expect(status?.pods?.items?.length).toBeLessThanOrEqual(MAX_POD_STATUS_ITEMS);
      const messages = (status?.conditions ?? []).map((c) => c.message).join('\n');
      expect(messages).toContain(holeName(0));
      expect(messages).toMatch(/and \d+ more/); // a bounded list of names
    } finally {
      samples = await health.stop();
    }
    // Liveness held throughout: every sample 200 (and there were many).
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.filter((s) => s !== 200)).toEqual([]);
  }, 300_000);
});
