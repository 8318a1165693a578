// Session sharing configured by the real operator, on the real API server with real agents:
// with spec.sessionCache.sharing enabled every agent ends up holding exactly the config the
// operator computes for it (peers = the other pods, with their addresses and identities: the
// hash the agent reports equals the contract's hash of that config), the status carries the
// summary, a pod that leaves changes the others' peers, a batch interval in the spec reaches the
// agents, and turning sharing off turns every agent off and removes the summary. (Sessions actually crossing pods: test/e2e, real ATS.)
import { describe, expect, it } from '@jest/globals';
import { acceptedAgentIdentities } from '../../src/agent/identity.ts';
import { sessionSharingConfigHash, type SessionSharingConfig } from '../../src/contract/session-sharing.ts';
import { eventually } from '../helpers/kube.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const ip = (i: number) => `127.0.214.${1 + i}`;
const sc = useOperatorScenario('operator-session-sharing', {
  port: PORT,
  pods: PODS.map((name, i) => ({ name, ip: ip(i), labels: { app: 'share' } })),
  ticketKeySet: ticketKeySet('web', {
    selector: { matchLabels: { app: 'share' } },
    rotation: { interval: '1h' },
    agent: { port: PORT },
    sessionCache: { sharing: { enabled: true, ttl: '90s', maxEntries: 2000 } },
  }),
});

interface Reported {
  enabled: boolean;
  configHash: string;
  peers: number;
}

const reported = async (pod: string): Promise<Reported> => (await sc.fleet.client(pod).getRing()).sessionSharing as Reported;

/** The config the operator should give `pod` with `live` the pods of the set (names sorted). */
function wanted(pod: string, live: readonly string[], batchIntervalMs?: number): SessionSharingConfig {
  return {
    enabled: true,
    ttlSeconds: 90,
    maxEntries: 2000,
    ...(batchIntervalMs === undefined ? {} : { batchIntervalMs }),
    peers: live
      .filter((p) => p !== pod)
      .map((p) => ({ name: p, address: `${ip(PODS.indexOf(p))}:${PORT}`, identities: acceptedAgentIdentities({ namespace: sc.ns.name, name: p }) })),
  };
}

describe('operator: session sharing', () => {
  it('gives every agent its peers: the hash each reports is the hash of the config the operator computes for it', async () => {
    await untilStatus(sc.tks, 'web', 'Ready 3/3', (t) => isReady(t, '3/3'));
    for (const pod of PODS) {
      const expected = sessionSharingConfigHash(wanted(pod, PODS));
      await eventually(`${pod} holds its sharing config`, async () => {
        const r = await reported(pod);
        return r.enabled && r.configHash === expected ? r : undefined;
      });
      expect(await reported(pod)).toMatchObject({ enabled: true, peers: 2 });
    }
    const t = await untilStatus(sc.tks, 'web', 'sessionSharing summary of 3 pods', (t) => t.status?.pods?.sessionSharing?.podsReporting === 3);
    expect(t.status!.pods!.sessionSharing).toEqual({ podsReporting: 3, exported: 0, sent: 0, received: 0, inserted: 0, dropped: 0, refused: 0 });
  });

  it('gives the remaining pods new peers when a pod leaves the set', async () => {
    await sc.fleet.pods.delete('ats-2'); // its agent process keeps running
    const live = ['ats-0', 'ats-1'];
    for (const pod of live) {
      const expected = sessionSharingConfigHash(wanted(pod, live));
      await eventually(`${pod} holds its new peers`, async () => ((await reported(pod)).configHash === expected ? true : undefined));
      expect((await reported(pod)).peers).toBe(1);
    }
  });

  it('gives every agent a batch interval set in the spec (in ms), and none again once it is back at the default', async () => {
    const live = ['ats-0', 'ats-1'];
    const holds = async (batchIntervalMs?: number) => {
      for (const pod of live) {
        const expected = sessionSharingConfigHash(wanted(pod, live, batchIntervalMs));
        await eventually(`${pod} holds batchIntervalMs ${String(batchIntervalMs)}`, async () => ((await reported(pod)).configHash === expected ? true : undefined));
      }
    };
    await sc.tks.mergePatch('web', { spec: { sessionCache: { sharing: { batchInterval: '250ms' } } } });
    await holds(250);
    await sc.tks.mergePatch('web', { spec: { sessionCache: { sharing: { batchInterval: '40ms' } } } });
    await holds(undefined);
  });

  it('turns every agent of the set off and removes the summary when sharing is disabled', async () => {
    await sc.tks.mergePatch('web', { spec: { sessionCache: { sharing: { enabled: false } } } });
    for (const pod of ['ats-0', 'ats-1']) {
      await eventually(`${pod} sharing off`, async () => ((await reported(pod)).enabled === false ? true : undefined));
      expect((await reported(pod)).peers).toBe(0);
    }
    await untilStatus(sc.tks, 'web', 'no sessionSharing summary', (t) => t.status?.pods !== undefined && t.status.pods.sessionSharing === undefined);
    // ats-2's pod was deleted while sharing was on: the operator no longer talks to its agent.
    expect(await reported('ats-2')).toMatchObject({ enabled: true, peers: 2 });
  });
});
