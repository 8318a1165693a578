// What the benchmarks measure with, shared: percentiles, a process's CPU and RSS from /proc, the
// API server's request counters, the operator's own /metrics, and a bounded parallel map.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { dirname } from 'node:path';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface Distribution {
  n: number;
  p50: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
}

export function dist(values: readonly number[]): Distribution {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), min: values.length ? min : null, max: values.length ? max : null };
}

/** Runs fn over items with at most `limit` at a time; `stop()` true ends the run early. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>, stop: () => boolean = () => false): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && !stop()) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

const CLK_TCK = 100; // USER_HZ on Linux

export interface ProcFacts {
  cpuSeconds: number;
  rssMb: number;
  hwmMb: number;
}

/** CPU seconds (user + system), resident set and its high-water mark of a process, from /proc. */
export async function procStat(pid: number): Promise<ProcFacts> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(/^\S+:\s+(\d+)/m.exec(status.split('\n').find((l) => l.startsWith(`${k}:`)) ?? '')?.[1] ?? NaN);
  return { cpuSeconds, rssMb: Math.round(kb('VmRSS') / 102.4) / 10, hwmMb: Math.round(kb('VmHWM') / 102.4) / 10 };
}

/** The machine's CPU time so far from /proc/stat, in CPU seconds: busy (all but idle and iowait) and total. */
export async function machineCpu(): Promise<{ busySeconds: number; totalSeconds: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const total = v.reduce((a, b) => a + b, 0);
  const idle = v[3]! + v[4]!;
  return { busySeconds: (total - idle) / CLK_TCK, totalSeconds: total / CLK_TCK };
}

/**
 * Where a Node process's memory is: resident anonymous and file-backed pages from /proc, and V8's
 * heap and external memory from its /metrics (prom-client's default process metrics).
 */
export async function memoryBreakdown(pid: number, metricsText: string): Promise<Record<string, number>> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const sum = (metric: string) => samplesOf(metricsText, metric).reduce((a, [, v]) => a + v, 0);
  return {
    rssMb: mb(kb('VmRSS')),
    rssAnonMb: mb(kb('RssAnon')),
    rssFileMb: mb(kb('RssFile')),
    v8HeapTotalMb: mb(sum('nodejs_heap_size_total_bytes')),
    v8HeapUsedMb: mb(sum('nodejs_heap_size_used_bytes')),
    externalMb: mb(sum('nodejs_external_memory_bytes')),
  };
}

export async function machineFacts(): Promise<{ node: string; cpus: number; kernel: string }> {
  return {
    node: process.version,
    cpus: (await readFile('/proc/cpuinfo', 'utf8')).split('\n').filter((l) => l.startsWith('processor')).length,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
  };
}

function get(url: URL, options: RequestOptions = {}): Promise<string> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<string>((resolve, reject) => {
    const req = send({ method: 'GET', hostname: url.hostname, port: url.port, path: url.pathname, ...options }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (data += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(data) : reject(new Error(`${url.pathname}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Prometheus text lines of one metric family: [labels, value]. */
export function samplesOf(text: string, metric: string): Array<[Record<string, string>, number]> {
  const out: Array<[Record<string, string>, number]> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    out.push([labels, Number(line.slice(line.lastIndexOf(' ') + 1))]);
  }
  return out;
}

/** The API server's apiserver_request_total by "VERB resource[/subresource]". */
export async function apiserverRequests(kc: KubeConfig): Promise<Map<string, number>> {
  const url = new URL('/metrics', kc.getCurrentCluster()!.server);
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const counts = new Map<string, number>();
  for (const [labels, value] of samplesOf(await get(url, opts), 'apiserver_request_total')) {
    if (!labels.resource) continue; // /metrics, /healthz…: not an API object
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

/** The operator's /metrics text (its --metrics-addr, plain HTTP). */
export function operatorMetrics(hostPort: string): Promise<string> {
  return get(new URL(`http://${hostPort}/metrics`));
}

/**
 * Quantile estimate from the bucket counts of a Prometheus histogram (the difference of two
 * scrapes), as histogram_quantile does: linear within the bucket, in the histogram's unit.
 */
export function histogramQuantile(buckets: ReadonlyArray<{ le: number; count: number }>, q: number): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Summed bucket counts of one histogram family (all label sets), keyed by `le`. */
export function histogramBuckets(text: string, metric: string, where: (labels: Record<string, string>) => boolean = () => true): Map<number, number> {
  const out = new Map<number, number>();
  for (const [labels, value] of samplesOf(text, `${metric}_bucket`)) {
    if (!where(labels) || labels.le === undefined) continue;
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    out.set(le, (out.get(le) ?? 0) + value);
  }
  return out;
}

/** Counter differences `after - before` per key, rounded, without zeros. */
export function counterDelta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, less: ReadonlyMap<string, number> = new Map()): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0) - (less.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

/** Writes a benchmark's result (pretty JSON) to `file`; prints it too with --json, else says where it went. */
export async function writeResult(file: string, result: unknown, json: boolean, log: (line: string) => void): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else log(`written to ${file}`);
}
