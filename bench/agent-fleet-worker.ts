// A child process serving part of a benchmark's agent fleet (bench/agent-fleet.ts): one agent per
// pod on the pod's loopback address, real mutual TLS with a per-pod certificate it issues from
// the fleet's CA, over the in-memory ATS bridge. Several processes share a fleet because each
// agent holds two listening sockets and a process may open only so many files.
// It reports each agent's active key fingerprint whenever it changes (never key bytes).
import { startAgent, type RunningAgent } from '../src/agent/agent.ts';
import { MemoryBridge } from '../src/agent/memory-bridge.ts';
import { issueAgentCert, loadCa } from '../src/dev/certs.ts';
import { createLogger } from '../src/observability/logger.ts';
import type { FleetCommand, FleetReport } from './agent-fleet.ts';
import { mapBounded } from './measure.ts';

const send = (m: FleetReport) => process.send!(m);
const agents: RunningAgent[] = [];
let reporting: NodeJS.Timeout | undefined;

async function start(cmd: Extract<FleetCommand, { kind: 'start' }>): Promise<void> {
  const ca = await loadCa(cmd.ca);
  const logger = createLogger({ component: 'bench-agent', level: 'error' });
  await mapBounded(cmd.pods, 16, async (pod, i) => {
    const pem = await issueAgentCert(ca, { namespace: cmd.namespace, pod: pod.name });
    agents[i] = await startAgent({
      listen: { host: pod.ip, port: cmd.port },
      healthListen: { host: pod.ip, port: 0 },
      tls: { cert: pem.cert, key: pem.key, clientCa: cmd.ca.cert },
      bridge: new MemoryBridge(),
      logger,
      // Thousands of agents share the machine: a slow re-assert keeps their background reads
      // from competing with the operator for the CPUs.
      reassertIntervalMs: cmd.reassertIntervalMs,
      // Thousands of agents in one process: their process metrics would be thousands of 100 Hz
      // event-loop-delay timers and GC observers (~0.18 CPU a process at 3333 agents), all
      // describing this one process, which nobody scrapes.
      processMetrics: false,
    });
  });
  const last = new Array<string>(agents.length).fill('');
  reporting = setInterval(() => {
    const changes: Array<[number, string]> = [];
    agents.forEach((a, i) => {
      // Every agent 20 times a second: a read that allocates nothing, or the harness competes with what it measures.
      const fp = a.keeper.activeFingerprint() ?? '';
      if (fp !== last[i]) {
        last[i] = fp;
        changes.push([i, fp]);
      }
    });
    if (changes.length > 0) send({ kind: 'active', at: Date.now(), changes });
  }, cmd.reportIntervalMs);
  send({ kind: 'ready' });
}

process.on('message', (m: FleetCommand) => {
  if (m.kind === 'start') {
    start(m).catch((err: unknown) => {
      send({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
    });
  } else if (m.kind === 'stop') {
    clearInterval(reporting);
    void Promise.allSettled(agents.map((a) => a.close())).then(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
