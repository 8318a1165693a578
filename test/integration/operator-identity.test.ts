// Identities bound to pods, on the real API server with real agents: the agent at pod B's
// address serves pod A's certificate (a foothold in A, replayed at B). The operator refuses it
// on the TLS identity check, never pushes to it, names the error on B in status, and keeps
// pod A converging. Once B's agent serves B's own certificate, B converges too.
import { describe, expect, it } from '@jest/globals';
import { AgentClient } from '../../src/agent/client.ts';
import { acceptedAgentIdentities, podIdentityUri } from '../../src/agent/identity.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const sc = useOperatorScenario('operator-identity', {
  port: PORT,
  pods: [
    { name: 'ats-a', ip: '127.0.50.1', labels: { app: 'ident' } },
    { name: 'ats-b', ip: '127.0.50.2', labels: { app: 'ident' }, startAgent: false },
  ],
  ticketKeySet: ticketKeySet('web', { selector: { matchLabels: { app: 'ident' } }, rotation: { interval: '1h' }, promotion: { timeout: '3s' }, agent: { port: PORT } }),
});

const podStatus = async (name: string) => (await sc.tks.get('web')).status?.pods?.items?.find((p) => p.name === name);

describe("operator: an agent presenting another pod's certificate is refused", () => {
  it('names the TLS identity error on pod B while pod A converges', async () => {
    await sc.fleet.startAgent('ats-b', { certOf: 'ats-a' });
    const t = await untilStatus(sc.tks, 'web', 'A converged and B refused on identity', (t) => {
      const b = t.status?.pods?.items?.find((p) => p.name === 'ats-b');
      return t.status?.pods?.converged === 1 && (b?.error ?? '').includes('ERR_TLS_AGENT_IDENTITY');
    });
    const a = t.status!.pods!.items!.find((p) => p.name === 'ats-a');
    expect(a?.generation).toBe(t.status?.keyGeneration);
    expect(a?.error ?? '').toBe('');
    const b = (await podStatus('ats-b'))!;
    expect(b.error).toContain(`names ${podIdentityUri(sc.ns.name, 'ats-a')}, not ${podIdentityUri(sc.ns.name, 'ats-b')}`);
    expect(b.generation ?? 0).toBe(0);
  });

  it('never pushed to the impostor: its agent holds nothing', async () => {
    // Ask the impostor as what it is (pod A's identity) at B's address.
    const asA = new AgentClient({
      baseUrl: `https://127.0.50.2:${PORT}`,
      tls: { ...operatorTls(), agentIdentities: acceptedAgentIdentities({ namespace: sc.ns.name, name: 'ats-a' }) },
    });
    try {
      const ring = await asA.getRing();
      expect(ring.accepted).toBeNull();
      expect(ring.ats.generation).toBe(0);
    } finally {
      await asA.close();
    }
  });

  it("converges pod B once its agent serves B's own certificate", async () => {
    await sc.fleet.stopAgent('ats-b');
    await sc.fleet.startAgent('ats-b');
    const t = await untilStatus(sc.tks, 'web', 'both pods converged', (t) => t.status?.pods?.converged === 2, 30_000);
    expect((await sc.fleet.client('ats-b').getRing()).ats.generation).toBe(t.status?.keyGeneration);
  });
});

function operatorTls(): { ca: string; cert: string; key: string } {
  return { ca: sc.fleet.certs.ca.cert, cert: sc.fleet.certs.operator.cert, key: sc.fleet.certs.operator.key };
}
