// `tko schedule NAME` (from the cluster) or `tko schedule -f FILE` (a manifest, before it is
// committed): the next rotation times of a TicketKeySet's rotation.schedule in its time zone,
// the maintenance-window state, and what is pending now. The same core as the operator
// (src/core/schedule), so what it prints is what the operator will do.
import type { Command } from 'commander';
// yaml statically: a bundler cannot give a dynamic import() of a CommonJS package its named exports.
import { parseAllDocuments } from 'yaml';
import type { TicketKeySet } from '../api/index.ts';
import { DEFAULT_TIME_ZONE } from '../api/schedule-bounds.ts';
import { formatDuration } from '../core/duration.ts';
import { resolvePolicy } from '../core/policy.ts';
import { decideScheduledRotation, nextScheduledAfter, windowStateAt, type RotationSchedule } from '../core/schedule/index.ts';
import { clientKubeConfig } from './kube-config.ts';

interface ScheduleFlags {
  file?: string;
  count: string;
  namespace?: string;
  kubeconfig?: string;
  kubeTimeout: string;
}

export const MAX_COUNT = 100;

/** `2026-03-29 03:00 GMT+2 (2026-03-29T01:00:00Z)`: wall time in the zone, then UTC. */
export function formatInZone(t: number, zone: string): string {
  const parts: Record<string, string> = {};
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short', timeZoneName: 'shortOffset' });
  for (const p of fmt.formatToParts(t)) parts[p.type] = p.value;
  const utc = new Date(t).toISOString().replace(/:00\.000Z$/, 'Z');
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName} (${utc})`;
}

/** The report (pure, for tests). Throws PolicyError for a spec the operator would refuse. */
export function formatSchedule(tks: TicketKeySet, now: number, count: number): string {
  const r = tks.spec.rotation;
  const name = `${tks.metadata.namespace ?? 'default'}/${tks.metadata.name ?? ''}`;
  if (r?.schedule === undefined) return `TicketKeySet ${name} rotates every ${r?.interval ?? '12h'} (no rotation.schedule)\n`;
  const zone = r.timeZone ?? DEFAULT_TIME_ZONE;
  const policy = resolvePolicy({ schedule: r.schedule, timeZone: r.timeZone, windows: r.windows, startingDeadline: r.startingDeadline, ticketLifetime: tks.spec.ticketLifetime, now });
  const rs = policy.schedule as RotationSchedule;
  const lines = [`TicketKeySet ${name}`, `  schedule: ${r.schedule}   time zone: ${zone}${r.startingDeadline ? `   startingDeadline: ${r.startingDeadline}` : ''}`];
  for (const w of rs.windows) lines.push(`  window:   ${w.schedule.expression} (${w.schedule.timeZone}) for ${formatDuration(w.durationMs)}`);
  if (rs.windows.length > 0) {
    const ws = windowStateAt(rs.windows, now);
    lines.push(
      ws.open
        ? `  window now: open since ${formatInZone(ws.opensAt!, zone)}, closes ${formatInZone(ws.closesAt!, zone)}`
        : `  window now: closed, opens ${formatInZone(ws.opensAt!, zone)}`,
    );
  }
  lines.push(`  ticketLifetime: ${tks.spec.ticketLifetime ?? `${formatDuration(policy.ticketLifetimeMs)} (the longest gap between slots over the next year, at most 168h)`}`);
  if (r.suspend) lines.push('  rotation.suspend is true: no scheduled rotation happens until it is false');
  const last = tks.status?.lastRotationTime ? Date.parse(tks.status.lastRotationTime) : undefined;
  let from = now;
  if (last !== undefined && Number.isFinite(last)) {
    const d = decideScheduledRotation(rs, last, now);
    const slot = d.slot === undefined ? '' : ` (slot ${formatInZone(d.slot, zone)})`;
    const state: Record<typeof d.reason, string> = {
      Due: `a rotation is due now${slot}`,
      NotYet: 'no slot pending',
      WaitingForWindow: `a slot is pending and waits for the next window${slot}`,
      MissedDeadline: `the latest slot missed startingDeadline and is skipped${slot}`,
      NeverFires: 'the schedule never fires again',
    };
    lines.push(`  last rotation: ${formatInZone(last, zone)}; ${state[d.reason]}`);
    if (!d.due && d.nextRotationTime !== undefined) {
      lines.push('', `Next ${count} rotation(s) (if each completes when it starts):`);
      lines.push(`  ${formatInZone(d.nextRotationTime, zone)}`);
      from = d.nextRotationTime;
      count -= 1;
    } else {
      lines.push('', `Next ${count} rotation(s) (if each completes when it starts):`);
    }
  } else {
    lines.push('', `Next ${count} rotation(s) (if each completes when it starts):`);
  }
  for (let i = 0; i < count; i++) {
    const n = nextScheduledAfter(rs, from);
    if (n === undefined) break;
    lines.push(`  ${formatInZone(n, zone)}`);
    from = n;
  }
  return `${lines.join('\n')}\n`;
}

export function registerSchedule(program: Command): void {
  program
    .command('schedule [name]')
    .description("print the next rotation times of a TicketKeySet's rotation.schedule in its time zone, and the window state")
    .option('-f, --file <manifest>', 'read the TicketKeySet from a YAML/JSON manifest instead of the cluster (check before committing)')
    .option('-c, --count <n>', `how many rotation times (1-${MAX_COUNT})`, '10')
    .option('-n, --namespace <ns>', "namespace of the TicketKeySet (default: the kubeconfig context's)")
    .option('--kubeconfig <file>', 'kubeconfig file')
    .option('--kube-timeout <duration>', 'timeout of the Kubernetes API request', '15s')
    .action(async (name: string | undefined, flags: ScheduleFlags) => {
      const count = Number(flags.count);
      if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw new Error(`--count must be an integer from 1 to ${MAX_COUNT}`);
      let tks: TicketKeySet;
      if (flags.file !== undefined) {
        const { readFileSync } = await import('node:fs');
        const docs = parseAllDocuments(readFileSync(flags.file, 'utf8')).map((d) => d.toJS() as TicketKeySet);
        const found = docs.find((d) => d?.kind === 'TicketKeySet' && (name === undefined || d.metadata?.name === name));
        if (!found) throw new Error(`no TicketKeySet${name ? ` named ${name}` : ''} in ${flags.file}`);
        tks = found;
      } else {
        if (name === undefined) throw new Error('name a TicketKeySet, or give --file');
        tks = await fetchTicketKeySet(name, flags);
      }
      process.stdout.write(formatSchedule(tks, Date.now(), count));
    });
}

async function fetchTicketKeySet(name: string, flags: ScheduleFlags): Promise<TicketKeySet> {
  const { CustomObjectsApi } = await import('@kubernetes/client-node');
  const { GROUP, VERSION, PLURAL } = await import('../api/names.ts');
  const { withTimeout } = await import('../operator/runtime/request-options.ts');
  const { toKubeError } = await import('../operator/runtime/api-errors.ts');
  const { parseDuration } = await import('../core/duration.ts');
  const { kc, namespace } = await clientKubeConfig(flags);
  try {
    return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name }, withTimeout(parseDuration(flags.kubeTimeout)))) as TicketKeySet;
  } catch (err) {
    throw toKubeError(err, `ticketkeyset ${namespace}/${name}`);
  }
}
