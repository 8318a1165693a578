// The Grafana dashboard in deploy/grafana (shipped by the chart with metrics.grafanaDashboard):
// every metric its PromQL names exists in the operator's registry, so renaming or dropping a
// metric fails here instead of leaving an empty panel; and the chart carries it unchanged.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { DASHBOARD_SOURCE, synthesizeFiles } from '../../../src/manifests/app.ts';
import { CHART_DASHBOARD_FILE } from '../../../src/manifests/availability-objects.ts';
import { OperatorMetrics } from '../../../src/operator/metrics.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; definition?: string }> };
}

const dashboard = JSON.parse(readFileSync(join(REPO, DASHBOARD_SOURCE), 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);

/**
 * Metric names in a PromQL expression: identifiers outside label matchers, strings, range
 * selectors and by/without/on/ignoring lists that are not a function call, keyword or $variable.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1()')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(m.index + m[0].length).trimStart();
    // A call, or an aggregation with its grouping first (`sum by (le) (...)`).
    if (after.startsWith('(') || /^(by|without)\(/.test(after) || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** The names a scrape of the operator can show: each metric, and a histogram's _bucket/_sum/_count series. */
async function registryNames(): Promise<Set<string>> {
  const metrics = new OperatorMetrics({ processMetrics: true });
  const out = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    out.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(`${m.name}${s}`);
    if (String(m.type) === 'summary') for (const s of ['_sum', '_count']) out.add(`${m.name}${s}`);
  }
  return out;
}

describe('Grafana dashboard', () => {
  it('finds the metric names of PromQL expressions (and nothing else)', () => {
    expect(
      metricNames('histogram_quantile(0.99, sum by (le, namespace) (increase(ticketkeys_rotation_stage_duration_seconds_bucket{namespace=~"$namespace", name="x"}[$window])))'),
    ).toEqual(['ticketkeys_rotation_stage_duration_seconds_bucket']);
    expect(metricNames('ticketkeys_next_rotation_timestamp_seconds{name=~"$ticketkeyset"} - time()')).toEqual(['ticketkeys_next_rotation_timestamp_seconds']);
    expect(metricNames('a_total / on (pod) group_left b_seconds offset 5m')).toEqual(['a_total', 'b_seconds']);
  });

  it('uses only metrics the operator exports, in every panel query and variable', async () => {
    const known = await registryNames();
    const used = new Map<string, string[]>();
    for (const p of panels) {
      expect(p.targets?.length ?? 0).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        const names = metricNames(t.expr ?? '');
        // An expression in which no metric was found would pass vacuously.
        expect({ panel: p.title, expr: t.expr, names: names.length > 0 }).toEqual({ panel: p.title, expr: t.expr, names: true });
        used.set(p.title, [...(used.get(p.title) ?? []), ...names]);
      }
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
      const q = v.definition ?? '';
      const m = /^label_values\((.*),\s*\w+\)$/.exec(q);
      expect(m).not.toBeNull();
      used.set(`variable ${v.name}`, metricNames(m![1]!));
    }
    const unknown = [...used].flatMap(([where, names]) => names.filter((n) => !known.has(n)).map((n) => `${where}: ${n}`));
    expect(unknown).toEqual([]);
    // The metrics the dashboard exists for (issue 12) are all on it.
    const all = new Set([...used.values()].flat());
    for (const name of [
      'ticketkeys_rotations_total',
      'ticketkeys_rotation_stage_duration_seconds_bucket',
      'ticketkeys_rotation_promote_duration_seconds_bucket',
      'ticketkeys_push_duration_seconds_bucket',
      'ticketkeys_pushes_total',
      'ticketkeys_pods_converged',
      'ticketkeys_pods_total',
      'ticketkeys_pod_tls_tickets_not_found',
      'ticketkeys_pod_tls_tickets_verified_old_key',
      'ticketkeys_active_key_age_seconds',
      'ticketkeys_next_rotation_timestamp_seconds',
      'workqueue_depth',
    ]) {
      expect(all).toContain(name);
    }
  });

  it('refers only to variables it defines, and to its data source through one', () => {
    const defined = new Set(['__rate_interval', '__interval', '__range', ...dashboard.templating.list.map((v) => v.name)]);
    const text = JSON.stringify(dashboard.panels);
    const refs = new Set([...text.matchAll(/\$\{?(\w+)\}?/g)].map((m) => m[1]!));
    expect([...refs].filter((r) => !defined.has(r))).toEqual([]);
    for (const p of panels) expect((p as unknown as { datasource: { uid: string } }).datasource.uid).toBe('${datasource}');
  });

  it('is shipped unchanged by the chart, as a ConfigMap labelled for the Grafana sidecar', () => {
    const files = synthesizeFiles();
    expect(files.get(`charts/ticket-key-operator/${CHART_DASHBOARD_FILE}`)).toBe(readFileSync(join(REPO, DASHBOARD_SOURCE), 'utf8'));
    const template = files.get('charts/ticket-key-operator/templates/grafana-dashboard.yaml') ?? '';
    expect(template).toContain('{{- if $.Values.metrics.grafanaDashboard.enabled }}');
    expect(template).toContain(`{{ $.Files.Get "${CHART_DASHBOARD_FILE}" | toJson }}`);
    const values = parse(files.get('charts/ticket-key-operator/values.yaml') ?? '') as { metrics: { grafanaDashboard: unknown } };
    expect(values.metrics.grafanaDashboard).toEqual({ enabled: false, namespace: '', labels: { grafana_dashboard: '1' }, annotations: {} });
  });
});
