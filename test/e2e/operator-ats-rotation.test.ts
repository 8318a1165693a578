// The heart of the project, end to end: three pods each running real ATS (bridge plugin) and a
// real agent, a real operator rotating every 10 s, and a real TLS client that resumes its
// session round-robin across the three instances (as a client behind a load balancer would)
// during several rotations. With the two-phase protocol no resumption may fail.
import { describe, expect, it } from '@jest/globals';
import { recordMeasurement } from '../helpers/ats.ts';
import { testKubeConfig } from '../helpers/kube.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { tlsProbe, type TlsVersion } from '../../dev/tls-probe.ts';

const PORT = 19443;
const TLS_PORT = 18443;
const IPS = ['127.0.0.181', '127.0.0.182', '127.0.0.183'];
const ROTATIONS = 3;
const sc = useOperatorScenario('operator-ats-rotation', {
  port: PORT,
  pods: IPS.map((ip, i) => ({ name: `ats-${i}`, ip, labels: { app: 'edge' }, ats: true, tlsPort: TLS_PORT })),
  setupTimeoutMs: 120_000,
  teardownTimeoutMs: 60_000,
});
const ns = sc.ns;

describe('operator + real ATS: rotations never fail a resumption', () => {
  it(`resumes round-robin across three ATS instances through ${ROTATIONS} rotations`, async () => {
    const created = Date.now();
    await sc.tks.create(
      ticketKeySet('edge', {
        selector: { matchLabels: { app: 'edge' } },
        rotation: { interval: '10s' },
        ticketLifetime: '60s',
        promotion: { timeout: '5s' },
        agent: { port: PORT },
      }),
    );
    const first = await untilStatus(sc.tks, 'edge', 'first ring in all three ATS', (t) => t.status?.pods?.converged === 3);
    await recordMeasurement('operator.json', 'firstRingConvergenceMs_3atsPods', Date.now() - created);
    const startGen = first.status!.keyGeneration!;

    // One chain per TLS version: every probe offers the session from the previous probe to the next instance.
    const chains = new Map<TlsVersion, { session: Buffer | undefined; attempts: number; resumed: number; keyNames: Set<string> }>();
    for (const v of ['1.3', '1.2'] as const) chains.set(v, { session: undefined, attempts: 0, resumed: 0, keyNames: new Set() });
    const failures: string[] = [];
    let i = 0;
    for (;;) {
      const t = await sc.tks.get('edge');
      if ((t.status?.keyGeneration ?? 0) >= startGen + 2 * ROTATIONS && t.status?.phase === 'Stable') break;
      if (Date.now() - created > 90_000) throw new Error(`only reached generation ${t.status?.keyGeneration} (start ${startGen})`);
      for (const [version, chain] of chains) {
        const host = IPS[i % IPS.length]!;
        const r = await tlsProbe({ host, port: TLS_PORT, tls: version, servername: 'edge.test', ...(chain.session ? { session: chain.session } : {}) });
        if (chain.session) {
          chain.attempts++;
          if (r.resumed) chain.resumed++;
          else failures.push(`TLS ${version} on ${host} at generation ${t.status?.keyGeneration} (${t.status?.phase})`);
        }
        if (r.newSession) chain.session = r.newSession;
        if (r.ticketKeyName) chain.keyNames.add(r.ticketKeyName);
      }
      i++;
    }
    const c13 = chains.get('1.3')!;
    const c12 = chains.get('1.2')!;
    await recordMeasurement('operator.json', 'roundRobinResumptionsDuringRotations', {
      rotations: ROTATIONS,
      tls13: { attempts: c13.attempts, resumed: c13.resumed, ticketKeys: c13.keyNames.size },
      tls12: { attempts: c12.attempts, resumed: c12.resumed, ticketKeys: c12.keyNames.size },
    });
    // Stage → promote: the staged key is created, pushed to the three ATS, acknowledged by all, promoted.
    const last = (await sc.tks.get('edge')).status!.activeKey!;
    await recordMeasurement('operator.json', 'stageToPromoteMs_3atsPods', Date.parse(last.promotedAt!) - Date.parse(last.createdAt));
    expect(failures).toEqual([]);
    expect(c13.attempts).toBeGreaterThan(30);
    expect(c12.attempts).toBeGreaterThan(30);
    // The probes really spanned the rotations: tickets were issued under every promoted key.
    expect(c13.keyNames.size).toBeGreaterThanOrEqual(ROTATIONS + 1);
    const events = await ticketKeySetEvents(testKubeConfig(), ns.name, 'edge');
    expect(events.filter((e) => e.reason === 'KeyStaged').length).toBeGreaterThanOrEqual(ROTATIONS);
    for (const name of sc.fleet.names()) expect((await sc.fleet.client(name).getRing()).ats.generation).toBeGreaterThanOrEqual(startGen + 2 * ROTATIONS);
  }, 150_000);
});
