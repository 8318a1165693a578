// `tko cache flush NAME` and `tko cache stats NAME`: ATS's TLS session cache on every pod a
// TicketKeySet targets, through each pod's agent. The pods are the ones the operator targets
// (same pod label selector, the TicketKeySet's selector, Running with an IP), and each agent
// must prove it is that pod, exactly as for the operator (AgentPool, pod-bound mTLS identity).
// Pods are asked with bounded concurrency and a timeout each; a failing pod is a row of the
// table, never the end of the command (the exit code is 1 when any pod failed).
import type { Command } from 'commander';
import type { SessionCacheStatsResponse } from '../agent/protocol.ts';
import type { TicketKeySet } from '../api/index.ts';
import { DEFAULT_POD_LABEL_SELECTOR } from '../api/names.ts';
import { SHARING_DIRECTIONS, sessionSharingOf, type PodSessionSharing } from '../operator/reconciler/session-sharing.ts';
import { clientKubeConfig } from './kube-config.ts';

interface CacheFlags {
  namespace?: string;
  kubeconfig?: string;
  kubeTimeout: string;
  agentClientCert: string;
  agentClientKey: string;
  agentCa: string;
  agentTimeout: string;
  concurrency: string;
  podLabelSelector: string;
  output: string;
}

export type CacheAction = 'flush' | 'stats';

/** One pod's answer: its session-cache stats, or why there are none. */
export type PodCacheResult = { pod: string; ok: true; stats: SessionCacheStatsResponse } | { pod: string; ok: false; error: string };

/**
 * A pod's session-sharing report (`sharing`, from agents that share sessions): validated as the
 * operator validates it, since what an agent sends is input; undefined when the agent has none.
 */
function sharingOf(stats: SessionCacheStatsResponse): PodSessionSharing | { error: string } | undefined {
  return sessionSharingOf(stats.sharing);
}

/**
 * The per-pod table (pure, for tests). `hits` is "-" for an agent or plugin that does not report
 * it. When some pod shares sessions (enabled, or counters from an earlier time it did), every pod's
 * sharing counters follow (SHARING on/off, "-" for an older agent, or "invalid" for a report
 * that is not what the protocol allows).
 */
export function formatCacheTable(action: CacheAction, ref: string, results: readonly PodCacheResult[]): string {
  const failed = results.filter((r) => !r.ok).length;
  const lines = [`TicketKeySet ${ref}: session cache ${action} on ${results.length} pod(s), ${failed} failed`];
  if (results.length === 0) return `${lines[0]} (no target pods)\n`;
  // Agents always report sharing; the columns appear once some pod shares (or shared, or reports nonsense).
  const withSharing = results.some((r) => {
    const sharing = r.ok ? sharingOf(r.stats) : undefined;
    return sharing !== undefined && ('error' in sharing || sharing.enabled || SHARING_DIRECTIONS.some((d) => sharing.counters[d] > 0));
  });
  const sharingHeader = withSharing ? ['SHARING', ...SHARING_DIRECTIONS.map((d) => d.toUpperCase())] : [];
  const noSharing = sharingHeader.map(() => '-');
  const sharingCells = (stats: SessionCacheStatsResponse): string[] => {
    if (!withSharing) return [];
    const sharing = sharingOf(stats);
    if (!sharing) return noSharing;
    if ('error' in sharing) return ['invalid', ...noSharing.slice(1)];
    return [sharing.enabled ? 'on' : 'off', ...SHARING_DIRECTIONS.map((d) => String(sharing.counters[d]))];
  };
  const rows = [['POD', 'RESULT', 'TRACKED', 'HITS', 'REMOVED', 'FLUSHES', ...sharingHeader, 'ERROR']];
  for (const r of results) {
    if (r.ok) {
      rows.push([
        r.pod,
        action === 'flush' ? 'flushed' : 'ok',
        String(r.stats.tracked),
        r.stats.hits !== undefined ? String(r.stats.hits) : '-',
        String(r.stats.removed),
        String(r.stats.flushes),
        ...sharingCells(r.stats),
        '',
      ]);
    } else rows.push([r.pod, 'error', '-', '-', '-', '-', ...noSharing, r.error]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  lines.push('');
  for (const row of rows) lines.push(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}

/**
 * The `--output json` document (pure, for tests). `sharing` is the validated report (enabled,
 * configHash, peers and the counters), or `sharingError` when the agent's report was refused.
 */
export function cacheJson(action: CacheAction, ref: { namespace: string; name: string }, results: readonly PodCacheResult[]): unknown {
  return {
    ticketKeySet: ref,
    action,
    pods: results.map((r) => {
      if (!r.ok) return { pod: r.pod, result: 'error', error: r.error };
      const { sharing: _raw, ...stats } = r.stats;
      const sharing = sharingOf(r.stats);
      return {
        pod: r.pod,
        result: 'ok',
        ...stats,
        ...(sharing === undefined ? {} : 'error' in sharing ? { sharingError: sharing.error } : { sharing: { enabled: sharing.enabled, configHash: sharing.configHash, peers: sharing.peers, ...sharing.counters } }),
      };
    }),
  };
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}


/** Runs `action` on every target pod of the TicketKeySet; results in pod-name order. */
export async function runCacheAction(action: CacheAction, name: string, flags: CacheFlags): Promise<{ namespace: string; results: PodCacheResult[] }> {
  if (flags.output !== 'table' && flags.output !== 'json') throw new Error(`--output must be table or json, got ${JSON.stringify(flags.output)}`);
  const [{ readFile }, { CoreV1Api, CustomObjectsApi }, { GROUP, VERSION, PLURAL }, { withTimeout }, { toKubeError }, { parseDuration }] = await Promise.all([
    import('node:fs/promises'),
    import('@kubernetes/client-node'),
    import('../api/names.ts'),
    import('../operator/runtime/request-options.ts'),
    import('../operator/runtime/api-errors.ts'),
    import('../core/duration.ts'),
  ]);
  const [{ labelSelectorToString }, { targetPods, agentAddress }, { AgentPool }, { mapBounded }, { withSpecDefaults }, { describeError }] = await Promise.all([
    import('../operator/runtime/label-selector.ts'),
    import('../operator/reconciler/pods.ts'),
    import('../operator/reconciler/agents.ts'),
    import('../operator/reconciler/fan-out.ts'),
    import('../api/spec-defaults.ts'),
    import('../observability/describe-error.ts'),
  ]);
  const concurrency = positiveInt('--concurrency', flags.concurrency);
  const agentTimeoutMs = parseDuration(flags.agentTimeout);
  const kubeTimeoutMs = parseDuration(flags.kubeTimeout);
  const [cert, key, ca] = await Promise.all([flags.agentClientCert, flags.agentClientKey, flags.agentCa].map((p) => readFile(p)));
  const agents = new AgentPool({ tls: { cert: cert!, key: key!, ca: ca! }, timeoutMs: agentTimeoutMs });

  const { kc, namespace } = await clientKubeConfig(flags);
  let tks: TicketKeySet;
  try {
    tks = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name }, withTimeout(kubeTimeoutMs))) as TicketKeySet;
  } catch (err) {
    throw toKubeError(err, `ticketkeyset ${namespace}/${name}`);
  }
  const spec = withSpecDefaults(tks.spec);
  // The API server narrows by both selectors; targetPods applies the operator's own rules.
  const labelSelector = [flags.podLabelSelector.trim(), labelSelectorToString(spec.selector)].filter((s) => s !== '').join(',');
  let pods;
  try {
    pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) }, withTimeout(kubeTimeoutMs));
  } catch (err) {
    throw toKubeError(err, `pods of ticketkeyset ${namespace}/${name}`);
  }
  const targets = targetPods(pods.items, spec.selector);
  try {
    const results = await mapBounded(targets, concurrency, async (pod): Promise<PodCacheResult> => {
      const to = agentAddress(pod, spec.agent.port);
      try {
        const stats = action === 'flush' ? await agents.flushSessionCacheWithStats(to) : await agents.sessionCacheStats(to);
        return { pod: pod.name, ok: true, stats };
      } catch (err) {
        return { pod: pod.name, ok: false, error: describeError(err) };
      }
    });
    return { namespace, results };
  } finally {
    await agents.close();
  }
}

export function registerCache(program: Command): void {
  const cache = program.command('cache').description('TLS session cache of every pod a TicketKeySet targets (through each pod\'s agent)');
  for (const [action, description] of [
    ['flush', 'flush ATS\'s TLS session cache on every target pod; prints each pod\'s result'],
    ['stats', 'show each target pod\'s session-cache stats: tracked sessions, hits, removals, flushes, and session-sharing counters when its agent shares sessions'],
  ] as const) {
    cache
      .command(`${action} <name>`)
      .description(description)
      .option('-n, --namespace <ns>', 'namespace of the TicketKeySet (default: the kubeconfig context\'s)')
      .option('--kubeconfig <file>', 'kubeconfig file')
      .option('--kube-timeout <duration>', 'timeout of each Kubernetes API request', '15s')
      .requiredOption('--agent-client-cert <file>', 'PEM client certificate for the agents\' mutual TLS (as `tko operator`)')
      .requiredOption('--agent-client-key <file>', 'PEM key of that certificate')
      .requiredOption('--agent-ca <file>', 'PEM operator CA bundle that signs the agents\' serving certificates')
      .option('--agent-timeout <duration>', 'timeout of each agent request', '10s')
      .option('--concurrency <n>', 'agents asked at once', '16')
      .option('--pod-label-selector <selector>', 'the operator\'s --pod-label-selector: only pods matching it are targeted', DEFAULT_POD_LABEL_SELECTOR)
      .option('-o, --output <format>', 'table or json', 'table')
      .action(async (name: string, flags: CacheFlags) => {
        const { namespace, results } = await runCacheAction(action, name, flags);
        const ref = { namespace, name };
        process.stdout.write(flags.output === 'json' ? `${JSON.stringify(cacheJson(action, ref, results), null, 2)}\n` : formatCacheTable(action, `${namespace}/${name}`, results));
        if (results.some((r) => !r.ok)) process.exitCode = 1;
      });
  }
}
