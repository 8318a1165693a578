// `tko cache stats` / `tko cache flush` as a user runs them (real CLI processes) against real ATS
// pods with real agents and a real operator; and revoke's flush: a TLS 1.2 session-id
// resumption (no ticket support on the client) that works on a pod before a revoke fails after
// it, on every pod.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import type { SessionCacheStatsResponse } from '../../src/agent/protocol.ts';
import { eventually } from '../helpers/kube.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.ts');
const PORT = 19443;
const TLS_PORT = 18443;
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const IPS = PODS.map((_, i) => `127.0.120.${11 + i}`);
const sc = useOperatorScenario('cache-cli', {
  port: PORT,
  pods: PODS.map((name, i) => ({ name, ip: IPS[i]!, labels: { app: 'cache' }, ats: true, tlsPort: TLS_PORT })),
  ticketKeySet: ticketKeySet('web', {
    selector: { matchLabels: { app: 'cache' } },
    rotation: { interval: '1h' },
    ticketLifetime: '1h',
    promotion: { timeout: '3s' },
    agent: { port: PORT },
    sessionCache: { flushOnRevoke: true },
  }),
  firstRingPods: 3,
  setupTimeoutMs: 150_000,
  teardownTimeoutMs: 60_000,
});

interface CliResult {
  code: number;
  stdout: string;
}

/** Runs `tko ARGS` with the operator's client certificate; resolves with the exit code (never rejects on 1). */
function tko(...args: string[]): Promise<CliResult> {
  const files = sc.fleet.files;
  const argv = [MAIN, ...args, '-n', sc.ns.name, '--kubeconfig', process.env.TKO_TEST_KUBECONFIG!];
  if (args[0] === 'cache') argv.push('--agent-client-cert', files.operatorCert, '--agent-client-key', files.operatorKey, '--agent-ca', files.caCert);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, argv, { timeout: 60_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? (err.code as number) : 0, stdout });
    });
  });
}

interface JsonRow extends Partial<SessionCacheStatsResponse> {
  pod: string;
  result: 'ok' | 'error';
  error?: string;
}

async function cacheJson(action: 'flush' | 'stats'): Promise<{ code: number; rows: Map<string, JsonRow> }> {
  const { code, stdout } = await tko('cache', action, 'web', '-o', 'json');
  const doc = JSON.parse(stdout) as { pods: JsonRow[] };
  return { code, rows: new Map(doc.pods.map((r) => [r.pod, r])) };
}

/** A session ATS's cache holds (TLS 1.2, no ticket), once the pod's plugin has tracked it. */
async function cachedSession(i: number): Promise<Buffer> {
  const s = await tlsProbe({ host: IPS[i]!, port: TLS_PORT, tls: '1.2', sessionIdOnly: true });
  expect(s.ticketKeyName).toBeUndefined();
  return s.newSession!;
}

const resumes = async (i: number, session: Buffer) => (await tlsProbe({ host: IPS[i]!, port: TLS_PORT, tls: '1.2', sessionIdOnly: true, session })).resumed;
const agentStats = (name: string) => sc.fleet.client(name).sessionCacheStats();
/** Plugin stats reach the agent on ATS's stats sync: waits until `done` holds for the pod. */
const statsUntil = (name: string, what: string, done: (s: SessionCacheStatsResponse) => boolean) =>
  eventually(`${name}: ${what}`, async () => {
    const s = await agentStats(name);
    return done(s) ? s : undefined;
  });

describe('tko cache against real ATS', () => {
  it('stats: every pod shows the sessions it tracks and the lookups that found one', async () => {
    for (let i = 0; i < PODS.length; i++) {
      const session = await cachedSession(i);
      expect(await resumes(i, session)).toBe(true);
      await statsUntil(PODS[i]!, 'tracked and hit', (s) => s.tracked >= 1 && (s.hits ?? 0) >= 1);
    }
    const { code, rows } = await cacheJson('stats');
    expect(code).toBe(0);
    expect([...rows.keys()].sort()).toEqual(PODS);
    for (const row of rows.values()) {
      expect(row.result).toBe('ok');
      expect(row.tracked).toBeGreaterThanOrEqual(1);
      expect(row.hits).toBeGreaterThanOrEqual(1);
    }
    const table = await tko('cache', 'stats', 'web');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^POD\s+RESULT\s+TRACKED\s+HITS\s+REMOVED\s+FLUSHES\s+ERROR$/m);
    for (const pod of PODS) expect(table.stdout).toMatch(new RegExp(`^${pod}\\s+ok\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+$`, 'm'));
  });

  it('flush: every pod flushed, with its result; the cached sessions no longer resume', async () => {
    const sessions: Buffer[] = [];
    for (let i = 0; i < PODS.length; i++) {
      sessions.push(await cachedSession(i));
      await statsUntil(PODS[i]!, 'tracked', (s) => s.tracked >= 1);
    }
    const before = new Map(await Promise.all(PODS.map(async (p) => [p, await agentStats(p)] as const)));

    const { code, rows } = await cacheJson('flush');
    expect(code).toBe(0);
    for (const pod of PODS) {
      const row = rows.get(pod)!;
      expect(row.result).toBe('ok');
      expect(row.flushes).toBe(before.get(pod)!.flushes + 1);
      expect(row.tracked).toBe(0);
      expect(row.removed).toBeGreaterThan(before.get(pod)!.removed);
    }
    for (let i = 0; i < PODS.length; i++) expect(await resumes(i, sessions[i]!)).toBe(false);
  });

  it('revoke: a session-id resumption that works before fails after it, on every pod', async () => {
    const before = await sc.tks.get('web');
    const sessions: Buffer[] = [];
    const flushes: number[] = [];
    for (let i = 0; i < PODS.length; i++) {
      sessions.push(await cachedSession(i));
      expect(await resumes(i, sessions[i]!)).toBe(true);
      flushes.push((await agentStats(PODS[i]!)).flushes);
    }

    const revoke = await tko('revoke', 'web');
    expect(revoke.code).toBe(0);
    await untilStatus(sc.tks, 'web', 'Stable after the revoke', (t) => t.status?.phase === 'Stable' && (t.status.keyGeneration ?? 0) > before.status!.keyGeneration! && t.status.pods?.converged === 3);
    // The operator flushes after each pod's push: wait until every pod counted it, then probe.
    for (let i = 0; i < PODS.length; i++) await statsUntil(PODS[i]!, 'revoke flush', (s) => s.flushes > flushes[i]!);
    for (let i = 0; i < PODS.length; i++) expect(await resumes(i, sessions[i]!)).toBe(false);
    // The cache itself still works: a new session resumes.
    expect(await resumes(0, await cachedSession(0))).toBe(true);
  });

  it('a pod whose agent is stopped shows its error; the others are flushed; exit code 1', async () => {
    const down = PODS[2]!;
    await sc.fleet.stopAgent(down);
    try {
      const { code, rows } = await cacheJson('flush');
      expect(code).toBe(1);
      expect(rows.get(down)?.result).toBe('error');
      expect(rows.get(down)?.error).toMatch(/\S/);
      for (const pod of PODS.filter((p) => p !== down)) expect(rows.get(pod)?.result).toBe('ok');

      const table = await tko('cache', 'stats', 'web');
      expect(table.code).toBe(1);
      expect(table.stdout).toMatch(new RegExp(`^${down}\\s+error(\\s+-){4}\\s+\\S`, 'm'));
      expect(table.stdout).toContain('1 failed');
    } finally {
      await sc.fleet.startAgent(down);
    }
  });
});
