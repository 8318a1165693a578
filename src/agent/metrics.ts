// The agent's Prometheus metrics, on a registry of its own (no global state, so tests and
// several agents in one process do not collide). Labels carry outcomes, never key data.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { coreDumpsPossible, readCoreFileLimit } from './core-dump-guard.ts';

/** Session sharing counters (SessionSharingStatus), by what happened to the sessions. */
export const SESSION_SHARING_DIRECTIONS = ['exported', 'sent', 'received', 'inserted', 'dropped', 'refused'] as const;
export type SessionSharingDirection = (typeof SESSION_SHARING_DIRECTIONS)[number];

export type InstallResult = 'installed' | 'unchanged' | 'ats_unavailable' | 'readback_timeout' | 'error';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly installs: Counter<'result'>;
  readonly rejections: Counter<'reason'>;
  readonly installDuration: Histogram;
  readonly reasserts: Counter<'result'>;
  readonly atsRestarts: Counter;
  readonly atsUp: Gauge;
  readonly ready: Gauge;
  readonly acceptedGeneration: Gauge;
  readonly atsGenerationAhead: Gauge;
  readonly pluginMlockFailed: Gauge;
  readonly coreDumpsEnabled: Gauge;
  readonly configReloads: Counter<'result' | 'trigger'>;
  readonly configLastReload: Gauge;
  readonly configKeysReasserted: Counter;
  readonly configProblems: Counter;
  readonly installConfirmations: Counter<'via'>;
  readonly sessionSharing: Counter<'direction'>;
  /** Set by startAgent when the bridge has a confirmation channel (collect-time read). */
  ackChannelSource:
    | (() => { records: Record<string, number>; pluginDropped: number | undefined; statsChecks?: { verified: number; unverified: number } } | undefined)
    | undefined;

  /**
   * processMetrics: the Node process's own series (CPU, memory, event-loop delay, GC), on by
   * default. Off where many agents share one process (benchmarks): each copy runs its own
   * 100 Hz event-loop-delay timer and GC observer, and they would all describe the same process.
   */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.installs = new Counter({
      name: 'tko_agent_ring_installs_total',
      help: 'PUT /v1/ring requests that reached ATS, by result',
      labelNames: ['result'],
      registers,
    });
    this.rejections = new Counter({
      name: 'tko_agent_rejections_total',
      help: 'Requests refused before reaching ATS, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.installDuration = new Histogram({
      name: 'tko_agent_ring_install_duration_seconds',
      help: 'From a valid ring to ATS proven holding it (read back from the plugin stats)',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.reasserts = new Counter({
      name: 'tko_agent_ring_reasserts_total',
      help: 'Re-installs of the last accepted ring after ATS lost it (restart) or held another ring',
      labelNames: ['result'],
      registers,
    });
    this.atsRestarts = new Counter({
      name: 'tko_agent_ats_restarts_total',
      help: 'traffic_server start time changes seen by the agent',
      registers,
    });
    this.atsUp = new Gauge({ name: 'tko_agent_ats_up', help: '1 when ATS answered the last poll', registers });
    this.ready = new Gauge({ name: 'tko_agent_ready', help: '1 when ATS holds the last ring the agent accepted', registers });
    this.acceptedGeneration = new Gauge({
      name: 'tko_agent_accepted_generation',
      help: 'Generation of the last ring the agent accepted (0: none)',
      registers,
    });
    this.atsGenerationAhead = new Gauge({
      name: 'tko_agent_ats_generation_ahead',
      help: 'Generation ATS holds when it is newer than the accepted ring (another writer in the pod): left as is, never rolled back; 0 otherwise',
      registers,
    });
    this.pluginMlockFailed = new Gauge({
      name: 'tko_agent_plugin_mlock_failed',
      help: "1 when the ATS plugin could not mlock its key store (plugin.ticketkeys.mlock_failed): keys may reach swap",
      registers,
    });
    this.coreDumpsEnabled = new Gauge({
      name: 'tko_agent_core_dumps_enabled',
      help: 'This agent process could write a core file holding keys (RLIMIT_CORE not 0, or unreadable)',
      registers,
      collect() {
        this.set(coreDumpsPossible(readCoreFileLimit()) ? 1 : 0);
      },
    });
    this.configReloads = new Counter({
      name: 'tko_agent_config_reloads_total',
      help: 'ATS configuration reloads seen and verified, by result and trigger (agent: the config directory changed; external: someone else reloaded)',
      labelNames: ['result', 'trigger'],
      registers,
    });
    this.configLastReload = new Gauge({
      name: 'tko_agent_config_last_reload_timestamp_seconds',
      help: 'When the last ATS configuration reload was verified (0: none)',
      registers,
    });
    this.configKeysReasserted = new Counter({
      name: 'tko_agent_config_keys_reasserted_total',
      help: 'Config reloads after which ATS held other keys and the agent re-installed the accepted ring',
      registers,
    });
    this.configProblems = new Counter({
      name: 'tko_agent_config_problems_total',
      help: 'Unusable readings of the config directory (garbage, binary data, symlink loop): ignored, no reload',
      registers,
    });
    this.installConfirmations = new Counter({
      name: 'tko_agent_install_confirmations_total',
      help: "Ring installs proven by the plugin's ack channel (via=ack) or by reading its stats back (via=stats)",
      labelNames: ['via'],
      registers,
    });
    for (const via of ['ack', 'stats']) this.installConfirmations.inc({ via }, 0);
    this.sessionSharing = new Counter({
      name: 'tko_agent_session_sharing_sessions_total',
      help: 'TLS sessions shared between pods: exported (read from the ATS plugin), sent (delivered to a peer, per peer), received (in accepted POST /v1/sessions), inserted (handed to ATS), dropped (send queue full, from before a flush, failed delivery), refused (invalid, or a refused request)',
      labelNames: ['direction'],
      registers,
    });
    for (const direction of SESSION_SHARING_DIRECTIONS) this.sessionSharing.inc({ direction }, 0);
    const source = () => this.ackChannelSource?.();
    // Counters kept by the bridge, copied at scrape time (reset + inc to the bridge's total).
    new Counter({
      name: 'tko_agent_ack_records_total',
      help: 'Records read from the plugin ack channel by outcome (matched, late, unmatched, flush, invalid, oversized)',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const [outcome, n] of Object.entries(source()?.records ?? {})) this.inc({ outcome }, n);
      },
    });
    new Counter({
      name: 'tko_agent_acks_checked_by_stats_total',
      help: 'Acked installs the plugin stats later showed (result=verified) or did not show within 3 s (result=unverified: the stats are believed, the ring re-asserted)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        for (const [result, n] of Object.entries(source()?.statsChecks ?? {})) this.inc({ result }, n);
      },
    });
    new Gauge({
      name: 'tko_agent_plugin_acks_dropped',
      help: 'Ack records the plugin could not write (no reader, FIFO full or missing): plugin.ticketkeys.acks_dropped at the last stats read',
      registers,
      collect() {
        const d = source()?.pluginDropped;
        if (d === undefined) this.reset();
        else this.set(d);
      },
    });
    for (const result of ['installed', 'unchanged', 'ats_unavailable', 'readback_timeout', 'error'] as const) this.installs.inc({ result }, 0);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'tko_agent_' });
  }
}
