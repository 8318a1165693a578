// `tko status NAME`, `tko rotate NAME`, `tko revoke NAME`: what a platform engineer types next
// to kubectl. status prints the ring and a per-pod table from the TicketKeySet status (which
// holds fingerprints only); rotate and revoke set the acting annotations to a fresh value.
import type { Command } from 'commander';
import type { TicketKeySet } from '../api/index.ts';
import { clientKubeConfig } from './kube-config.ts';

interface CtlFlags {
  namespace?: string;
  kubeconfig?: string;
  kubeTimeout: string;
}

/** --kube-timeout in ms: an unreachable API server ends the command instead of hanging it. */
async function kubeTimeoutMs(flags: CtlFlags): Promise<number> {
  const { parseDuration } = await import('../core/duration.ts');
  return parseDuration(flags.kubeTimeout);
}


function withCommon(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <ns>', 'namespace of the TicketKeySet (default: the kubeconfig context\'s)')
    .option('--kubeconfig <file>', 'kubeconfig file')
    .option('--kube-timeout <duration>', 'timeout of each Kubernetes API request', '15s');
}

/** The per-pod table of `tko status` (pure, for tests). */
export function formatStatus(tks: TicketKeySet): string {
  const s = tks.status ?? {};
  const gen = s.keyGeneration ?? 0;
  const lines: string[] = [];
  const cond = (type: string) => s.conditions?.find((c) => c.type === type);
  lines.push(`TicketKeySet ${tks.metadata.namespace}/${tks.metadata.name}`);
  lines.push(`  phase:       ${s.phase ?? 'Unknown'}   generation: ${gen}   pods: ${s.pods?.summary ?? '0/0'} converged`);
  lines.push(`  active key:  ${s.activeKey?.fingerprint ?? '-'}${s.stagedKey ? `   staged key: ${s.stagedKey.fingerprint}` : ''}   retired: ${s.retiredKeys?.length ?? 0}`);
  lines.push(`  last rotation: ${s.lastRotationTime ?? '-'}   next rotation: ${s.nextRotationTime ?? '-'}`);
  for (const type of ['Ready', 'Progressing', 'Degraded', 'SelectorConflict', 'ConfigConsistent']) {
    const c = cond(type);
    if (c) lines.push(`  ${type}=${c.status} (${c.reason}): ${c.message}`);
  }
  const items = s.pods?.items ?? [];
  // Configuration columns only when some agent reports them (agents started with --config-dir).
  const showConfig = items.some((p) => p.configHash !== undefined || p.lastReloadTime !== undefined);
  const rows = [['POD', 'GENERATION', 'RING FINGERPRINT', 'ACKNOWLEDGED', 'LAG', ...(showConfig ? ['CONFIG HASH', 'LAST RELOAD'] : []), 'ERROR']];
  for (const p of items) {
    const acked = p.generation !== undefined && p.generation === gen && p.error === undefined;
    const config = showConfig ? [p.configHash ? p.configHash.slice(0, 19) : '-', p.lastReloadTime ?? '-'] : [];
    rows.push([
      p.name,
      p.generation !== undefined ? String(p.generation) : '-',
      p.ringFingerprint ?? '-',
      acked ? 'yes' : 'no',
      p.generation !== undefined ? String(gen - p.generation) : '-',
      ...config,
      p.error ?? '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  lines.push('');
  for (const r of rows) lines.push(r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  if ((s.pods?.total ?? 0) > items.length) lines.push(`(${items.length} of ${s.pods?.total} pods shown, laggards first)`);
  return `${lines.join('\n')}\n`;
}

export function registerCtl(program: Command): void {
  withCommon(program.command('status <name>').description('show a TicketKeySet\'s keys and which ring each pod holds')).action(async (name: string, flags: CtlFlags) => {
    const { kc, namespace } = await clientKubeConfig(flags);
    const { CustomObjectsApi } = await import('@kubernetes/client-node');
    const { GROUP, VERSION, PLURAL } = await import('../api/names.ts');
    const { withTimeout } = await import('../operator/runtime/request-options.ts');
    const { toKubeError } = await import('../operator/runtime/api-errors.ts');
    const timeoutMs = await kubeTimeoutMs(flags);
    let tks: TicketKeySet;
    try {
      tks = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name }, withTimeout(timeoutMs))) as TicketKeySet;
    } catch (err) {
      throw toKubeError(err, `ticketkeyset ${namespace}/${name}`);
    }
    process.stdout.write(formatStatus(tks));
  });
  for (const [verb, description] of [
    ['rotate', 'request one rotation now (sets ticketkeys.dev/rotate-now)'],
    ['revoke', 'emergency revoke: replace every key at once (sets ticketkeys.dev/revoke)'],
  ] as const) {
    withCommon(program.command(`${verb} <name>`).description(description)).action(async (name: string, flags: CtlFlags) => {
      const { kc, namespace } = await clientKubeConfig(flags);
      const { TicketKeySetAnnotator } = await import('../operator/kube/annotations.ts');
      const annotator = new TicketKeySetAnnotator({ kubeConfig: kc, requestTimeoutMs: await kubeTimeoutMs(flags) });
      const ref = { namespace, name };
      const value = verb === 'rotate' ? await annotator.requestRotation(ref) : await annotator.requestRevoke(ref);
      process.stdout.write(`${verb === 'rotate' ? 'rotation' : 'revoke'} requested for ${namespace}/${name} (${value})\n`);
    });
  }
}
