// Session sharing across pods (issue 14) on real parts: three pods, each a real ATS 9 whose
// plugin exports new TLS sessions to its agent (--session-fifo), real `tko agent`s sending them
// to each other over mutual TLS, a real operator handing out the peer lists
// (spec.sessionCache.sharing). The clients are Node TLS 1.2 clients without ticket support
// (tlsProbe's sessionIdOnly: maxVersion TLSv1.2, secureOptions SSL_OP_NO_TICKET, one servername
// for every pod): they can only resume by session id, from ATS's session cache.
//
//   - a session made on one pod resumes on the other two once propagated; status and metrics
//     count it (exported, sent, received, inserted);
//   - shared sessions expire with the TTL (the origin pod keeps its own);
//   - with sharing disabled a session resumes only on the pod that made it;
//   - a revoke flushes every pod: no session from before it resumes anywhere, and a peer
//     replaying one (honestly dated, or with a forged fresh date) is refused;
//   - hostile callers: the operator's certificate, a certificate of a pod outside the set, a
//     foreign CA, a peer on the operator's routes, a truncated and an oversized DER: refused and
//     counted, ATS keeps running (same traffic_server process, still serving and sharing);
//   - no key or session secret in logs, Events, status or metrics.
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AgentClient } from '../../src/agent/client.ts';
import { createCa, issueAgentCert, type PemPair } from '../../src/dev/certs.ts';
import { PLUGIN_STATS } from '../../src/contract/plugin-wire.ts';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';
import { tlsProbe, type TlsProbeResult } from '../../dev/tls-probe.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { KeyScanner, scanSources } from '../helpers/key-scan.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';

const PORT = 19443;
const TLS_PORT = 18443;
const NAME = 'share';
const SERVERNAME = 'share.test';
const PODS = ['ats-0', 'ats-1', 'ats-2'] as const;
type Pod = (typeof PODS)[number];
const IP: Record<Pod, string> = { 'ats-0': '127.0.72.1', 'ats-1': '127.0.72.2', 'ats-2': '127.0.72.3' };
/** How long a session may take to reach the other pods before the test calls it lost. */
const PROPAGATION_BOUND_MS = 15_000;

const sc = useOperatorScenario('operator-session-sharing', {
  port: PORT,
  pods: PODS.map((name) => ({ name, ip: IP[name], labels: { app: 'share' }, ats: true, tlsPort: TLS_PORT, sessionSharing: true })),
  ticketKeySet: ticketKeySet(NAME, {
    selector: { matchLabels: { app: 'share' } },
    rotation: { interval: '1h' },
    ticketLifetime: '1h',
    promotion: { timeout: '3s' },
    agent: { port: PORT },
    sessionCache: { sharing: { enabled: true, ttl: '30s' } },
  }),
  firstRingPods: 3,
  setupTimeoutMs: 150_000,
  teardownTimeoutMs: 60_000,
});

// ---- what the agents and ATS report -------------------------------------------------------

/** An agent's sessionSharing report (GET /v1/ring), as the spec (issue 14) defines it. */
interface SharingReport {
  enabled: boolean;
  configHash: string;
  peers: number;
  exported: number;
  sent: number;
  received: number;
  inserted: number;
  dropped: number;
  refused: number;
}

interface SharingSummary {
  podsReporting: number;
  exported: number;
  sent: number;
  received: number;
  inserted: number;
  dropped: number;
  refused: number;
}

const clients = new Map<Pod, AgentClient>();
const agentClient = (pod: Pod): AgentClient => {
  let c = clients.get(pod);
  if (!c) {
    c = sc.fleet.client(pod);
    clients.set(pod, c);
  }
  return c;
};

async function sharingOf(pod: Pod): Promise<SharingReport | undefined> {
  const ring = (await agentClient(pod).getRing()) as { sessionSharing?: SharingReport };
  return ring.sessionSharing;
}

async function sharingOfAll(): Promise<Record<Pod, SharingReport>> {
  const out = {} as Record<Pod, SharingReport>;
  for (const pod of PODS) {
    const r = await sharingOf(pod);
    if (!r) throw new Error(`${pod}: its agent reports no sessionSharing`);
    out[pod] = r;
  }
  return out;
}

/** Waits until every agent's report satisfies `ok` (the operator applied a config). */
function untilAgents(what: string, ok: (r: SharingReport, pod: Pod) => boolean, timeoutMs = 30_000): Promise<Record<Pod, SharingReport>> {
  return eventually(
    what,
    async () => {
      const all = await sharingOfAll();
      if (PODS.every((p) => ok(all[p], p))) return all;
      throw new Error(`agents report ${PODS.map((p) => `${p}: enabled ${all[p].enabled}, ${all[p].peers} peers, config ${all[p].configHash.slice(0, 8)}`).join('; ')}`);
    },
    timeoutMs,
  );
}

const summaryOf = (t: { status?: { pods?: unknown } }): SharingSummary | undefined => (t.status?.pods as { sessionSharing?: SharingSummary } | undefined)?.sessionSharing;

/** One plugin counter of the pod's running traffic_server (RECORD_GET through traffic_ctl). */
async function pluginStat(pod: Pod, name: string): Promise<number> {
  const r = await sc.fleet.get(pod).ats!.trafficCtl(['metric', 'get', name]);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}\\s+(-?\\d+)`, 'm').exec(r.stdout);
  if (!m) throw new Error(`traffic_ctl metric get ${name}: no value`);
  return Number(m[1]);
}

function untilPluginStat(pod: Pod, name: string, ok: (v: number) => boolean, timeoutMs = 15_000): Promise<number> {
  return eventually(`${pod} ${name}`, async () => {
    const v = await pluginStat(pod, name);
    return ok(v) ? v : undefined;
  }, timeoutMs);
}

/** The operator's /metrics series of one pod and direction (labels matched loosely). */
async function operatorSeries(pod: Pod, direction: string): Promise<number | undefined> {
  const text = await (await fetch(`${sc.operator.metricsUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('ticketkeys_pod_session_sharing_sessions{') && l.includes(`pod="${pod}"`) && l.includes(`direction="${direction}"`) && l.includes(`namespace="${sc.ns.name}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

// ---- TLS 1.2 session-id clients --------------------------------------------------------------

interface ClientSession {
  bytes: Buffer;
  id: string;
  madeOn: Pod;
  /** Unix seconds just before the handshake that made it. */
  madeAt: number;
}

/** Master secrets of every session the test made: none may show up anywhere. */
const sessionSecrets: Buffer[] = [];

const idOnly = (pod: Pod, session?: Buffer): Promise<TlsProbeResult> =>
  tlsProbe({ host: IP[pod], port: TLS_PORT, tls: '1.2', sessionIdOnly: true, servername: SERVERNAME, timeoutMs: 5000, ...(session ? { session } : {}) });

/** A full TLS 1.2 handshake on `pod` without ticket support: a session only ATS's cache holds. */
async function newSession(pod: Pod): Promise<ClientSession> {
  const madeAt = Math.floor(Date.now() / 1000);
  const r = await idOnly(pod);
  expect(r.protocol).toBe('TLSv1.2');
  expect(r.ticketKeyName).toBeUndefined();
  expect(r.sessionId).toMatch(/^[0-9a-f]{2,64}$/);
  sessionSecrets.push(Buffer.from(parseSessionDer(r.newSession!).masterKey));
  return { bytes: r.newSession!, id: r.sessionId!, madeOn: pod, madeAt };
}

const resumes = async (pod: Pod, s: ClientSession): Promise<boolean> => (await idOnly(pod, s.bytes)).resumed;

/** Polls until `pod` resumes `s` (bounded); returns when it first did (ms since the epoch). */
async function untilResumes(pod: Pod, s: ClientSession, timeoutMs = PROPAGATION_BOUND_MS): Promise<number> {
  return eventually(`the session made on ${s.madeOn} resumes on ${pod}`, async () => ((await resumes(pod, s)) ? Date.now() : undefined), timeoutMs);
}

// ---- SSL_SESSION DER (OpenSSL ssl/ssl_asn1.c) --------------------------------------------------

interface Tlv {
  tag: number;
  at: number;
  start: number;
  end: number;
}

function readTlv(buf: Buffer, at: number): Tlv {
  const tag = buf[at];
  let len = buf[at + 1];
  if (tag === undefined || len === undefined) throw new Error('truncated DER');
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) throw new Error('truncated DER');
  return { tag, at, start, end: start + len };
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const NODE_SESSION_MAGIC = Buffer.from('\0nodejs:tls:session:', 'latin1');

/**
 * From a session as Node exports it: the session as a server would serialise it (the client
 * side's [3] peer certificate left out, which keeps it under ATS's 256-byte cap), its id, its
 * master secret and its time. A peer replaying a captured session would send such a DER.
 */
function parseSessionDer(session: Buffer): { der: Buffer; id: Buffer; masterKey: Buffer; time: number } {
  let der = session;
  if (session.subarray(0, NODE_SESSION_MAGIC.length).equals(NODE_SESSION_MAGIC)) {
    const nul = session.indexOf(0, NODE_SESSION_MAGIC.length);
    der = session.subarray(nul + 3 + session.readUInt16BE(nul + 1));
  }
  const seq = readTlv(der, 0);
  const kept: Buffer[] = [];
  let id: Buffer | undefined;
  let masterKey: Buffer | undefined;
  let time: number | undefined;
  let index = 0;
  for (let at = seq.start; at < seq.end; index++) {
    const el = readTlv(der, at);
    if (index === 3 && el.tag === 0x04) id = der.subarray(el.start, el.end);
    if (index === 4 && el.tag === 0x04) masterKey = der.subarray(el.start, el.end);
    if (el.tag === 0xa1) {
      const inner = readTlv(der, el.start);
      time = 0;
      for (let i = inner.start; i < inner.end; i++) time = time * 256 + der[i]!;
    }
    if (el.tag !== 0xa3) kept.push(der.subarray(el.at, el.end));
    at = el.end;
  }
  if (!id || !masterKey || time === undefined) throw new Error('not an SSL_SESSION');
  const body = Buffer.concat(kept);
  return { der: Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]), id, masterKey, time };
}

// ---- callers of an agent's API with a certificate of the test's choosing --------------------

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

function callAgent(pod: Pod, as: PemPair, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: IP[pod],
        port: PORT,
        method,
        path,
        cert: as.cert,
        key: as.key,
        ca: readFileSync(sc.fleet.files.caCert),
        // The agent's certificate names its pod by URI SAN; who the agent is does not matter here.
        checkServerIdentity: () => undefined,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { raw: text.slice(0, 200) };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

const sessionsBody = (sessions: Array<{ id: string; der: Buffer; time: number }>) => ({
  sessions: sessions.map((s) => ({ id: s.id, der: s.der.toString('base64'), time: s.time })),
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---- the scenario ----------------------------------------------------------------------------

let scanner: KeyScanner;
let atsPids: Record<Pod, number | undefined>;

beforeAll(async () => {
  scanner = new KeyScanner(testKubeConfig(), sc.ns.name, [NAME]);
  await scanner.collect();
  scanner.startCollecting();
  atsPids = {} as Record<Pod, number | undefined>;
  for (const pod of PODS) atsPids[pod] = (await sc.fleet.get(pod).ats!.pids()).server;
}, 30_000);

afterAll(() => {
  scanner?.destroy();
  for (const s of sessionSecrets) s.fill(0);
});

const annotator = () => new TicketKeySetAnnotator({ kubeConfig: testKubeConfig() });

/** Every agent enabled, with its two peers, on the same config; returns the reports. */
const sharingOn = (what = 'every agent shares with its two peers') => untilAgents(what, (r) => r.enabled && r.peers === PODS.length - 1);

describe('session sharing across three real ATS pods', () => {
  it('a session made on one pod resumes on the other two once propagated', async () => {
    const before = await sharingOn();
    // Each pod's own config (its peers are the two others).
    for (const p of PODS) expect(before[p].configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(PODS.map((p) => before[p].configHash)).size).toBe(3);

    const s = await newSession('ats-0');
    expect(await resumes('ats-0', s)).toBe(true);
    await untilResumes('ats-1', s);
    await untilResumes('ats-2', s);

    // Both ways: a session made on ats-2 reaches ats-0.
    const back = await newSession('ats-2');
    await untilResumes('ats-0', back);

    const after = await sharingOfAll();
    expect(after['ats-0'].exported).toBeGreaterThan(before['ats-0'].exported);
    expect(after['ats-0'].sent).toBeGreaterThanOrEqual(before['ats-0'].sent + 2); // one per peer
    for (const p of ['ats-1', 'ats-2'] as const) {
      expect(after[p].received).toBeGreaterThan(before[p].received);
      expect(after[p].inserted).toBeGreaterThan(before[p].inserted);
    }
    // The plugins exported and inserted them (their stats are published within ~0.3 s).
    await untilPluginStat('ats-0', PLUGIN_STATS.sessionsExported, (v) => v > 0);
    await untilPluginStat('ats-1', PLUGIN_STATS.sessionsImported, (v) => v > 0);
  }, 90_000);

  it('status.pods.sessionSharing and the operator metrics count the shared sessions', async () => {
    const agents = await sharingOfAll();
    const t = await untilStatus(
      sc.tks,
      NAME,
      'status.pods.sessionSharing summed over 3 pods',
      (x) => {
        const s = summaryOf(x);
        return s !== undefined && s.podsReporting === 3 && s.exported >= agents['ats-0'].exported && s.inserted >= agents['ats-1'].inserted + agents['ats-2'].inserted;
      },
      30_000,
    );
    const s = summaryOf(t)!;
    expect(s.exported).toBeGreaterThanOrEqual(2);
    expect(s.sent).toBeGreaterThanOrEqual(4);
    expect(s.received).toBeGreaterThanOrEqual(4);
    expect(s.inserted).toBeGreaterThanOrEqual(4);
    for (const k of ['dropped', 'refused'] as const) expect(Number.isInteger(s[k]) && s[k] >= 0).toBe(true);

    const exported = await eventually('ats-0 exported in the operator /metrics', async () => {
      const v = await operatorSeries('ats-0', 'exported');
      return v !== undefined && v >= 1 ? v : undefined;
    });
    expect(exported).toBeGreaterThanOrEqual(1);
    expect(await operatorSeries('ats-1', 'inserted')).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('shared sessions expire with the TTL; the pod that made one keeps its own', async () => {
    const TTL_S = 10;
    const old = await sharingOfAll();
    await sc.tks.mergePatch(NAME, { spec: { sessionCache: { sharing: { enabled: true, ttl: `${TTL_S}s` } } } });
    await untilAgents(`every agent on the ${TTL_S}s config`, (r, p) => r.enabled && r.configHash !== old[p].configHash);

    const s = await newSession('ats-1');
    // Inserted on both others within the TTL (received sessions older than the TTL are refused).
    const seen = Math.max(await untilResumes('ats-0', s, TTL_S * 1000), await untilResumes('ats-2', s, TTL_S * 1000));
    // A pod inserts a session with time + timeout clamped to (its clock at insertion) + TTL, and
    // the insertion came before the first resumption there; one more second for whole seconds.
    const expiry = seen + (TTL_S + 2) * 1000;
    await sleep(Math.max(0, expiry - Date.now()));
    expect(await resumes('ats-0', s)).toBe(false);
    expect(await resumes('ats-2', s)).toBe(false);
    // Not a flush: ats-1's own entry (ATS's session timeout, not the TTL) still resumes.
    expect(await resumes('ats-1', s)).toBe(true);

    const ttlConfig = await sharingOfAll();
    await sc.tks.mergePatch(NAME, { spec: { sessionCache: { sharing: { enabled: true, ttl: '30s' } } } });
    await untilAgents('every agent back on the 30s config', (r, p) => r.enabled && r.configHash !== ttlConfig[p].configHash);
  }, 90_000);

  it('with sharing disabled a session resumes only on the pod that made it', async () => {
    await sc.tks.mergePatch(NAME, { spec: { sessionCache: { sharing: { enabled: false } } } });
    await untilAgents('every agent stopped sharing', (r) => !r.enabled);
    const received = await sharingOfAll();

    const noReader = await pluginStat('ats-0', PLUGIN_STATS.sessionsExportNoReader);
    const s = await newSession('ats-0');
    // The plugin saw the new session and found nobody reading the FIFO: it is never exported.
    await untilPluginStat('ats-0', PLUGIN_STATS.sessionsExportNoReader, (v) => v > noReader);

    expect(await resumes('ats-0', s)).toBe(true);
    expect(await resumes('ats-1', s)).toBe(false);
    expect(await resumes('ats-2', s)).toBe(false);
    const after = await sharingOfAll();
    for (const p of ['ats-1', 'ats-2'] as const) expect(after[p].received).toBe(received[p].received);
    // Sharing off: no summary in status.
    await untilStatus(sc.tks, NAME, 'no status.pods.sessionSharing while sharing is off', (t) => summaryOf(t) === undefined, 30_000);

    await sc.tks.mergePatch(NAME, { spec: { sessionCache: { sharing: { enabled: true, ttl: '30s' } } } });
    await sharingOn('sharing enabled again');
    // And it works again at once.
    const again = await newSession('ats-0');
    await untilResumes('ats-1', again);
  }, 90_000);

  it('a revoke makes every shared session unusable on every pod; replays of older sessions are refused', async () => {
    const s0 = await newSession('ats-0');
    await untilResumes('ats-1', s0);
    await untilResumes('ats-2', s0);

    const before = await sc.tks.get(NAME);
    const flushes = {} as Record<Pod, number>;
    for (const p of PODS) flushes[p] = await pluginStat(p, PLUGIN_STATS.cacheFlushes);
    await sleep(1100); // the revoke's second is after s0's
    await annotator().requestRevoke({ namespace: sc.ns.name, name: NAME });
    await untilStatus(
      sc.tks,
      NAME,
      'Stable after the revoke',
      (t) => t.status?.phase === 'Stable' && (t.status.keyGeneration ?? 0) > before.status!.keyGeneration! && t.status.pods?.converged === 3,
      60_000,
    );
    for (const p of PODS) await untilPluginStat(p, PLUGIN_STATS.cacheFlushes, (v) => v > flushes[p]!);
    // Every flush is done by now: a session made from the next second on is after all of them
    // (the agents refuse sessions dated in the second of their last flush).
    const flushedBy = nowSeconds();
    await scanner.collect();

    for (const p of PODS) expect(await resumes(p, s0)).toBe(false);

    // A peer (ats-0's identity, the sender ats-1 expects) replays s0 to ats-1.
    const peer = await sc.fleet.agentCertFor('ats-0');
    const { der } = parseSessionDer(s0.bytes);
    const refusedBefore = (await sharingOf('ats-1'))!.refused;
    const rejectedBefore = await pluginStat('ats-1', PLUGIN_STATS.sessionsImportRejected);
    try {
      // Honestly dated: older than the agent's last flush, refused by the agent.
      const honest = await callAgent('ats-1', peer, 'POST', '/v1/sessions', sessionsBody([{ id: s0.id, der, time: s0.madeAt }]));
      expect(honest.status).toBe(200);
      expect(honest.body).toMatchObject({ accepted: 0, refused: 1 });
      expect((await sharingOf('ats-1'))!.refused).toBeGreaterThan(refusedBefore);
      // Dated now: the agent cannot tell, the plugin reads the session's own time (before its flush).
      // (A few seconds ahead: the agent refuses anything dated in the second of its last flush.)
      const forged = await callAgent('ats-1', peer, 'POST', '/v1/sessions', sessionsBody([{ id: s0.id, der, time: nowSeconds() + 5 }]));
      expect(forged.status).toBe(200);
      expect(forged.body).toMatchObject({ accepted: 1, refused: 0 });
      await untilPluginStat('ats-1', PLUGIN_STATS.sessionsImportRejected, (v) => v > rejectedBefore);
    } finally {
      der.fill(0);
    }
    expect(await resumes('ats-1', s0)).toBe(false);

    // Sessions made after the revoke are shared as before.
    while (nowSeconds() <= flushedBy) await sleep(50);
    const s1 = await newSession('ats-2');
    await untilResumes('ats-0', s1);
    await untilResumes('ats-1', s1);
  }, 150_000);

  it('hostile callers and bad sessions are refused and counted; ATS keeps running', async () => {
    const refusedBefore = await sharingOfAll();
    const rejectedBefore = await pluginStat('ats-0', PLUGIN_STATS.sessionsImportRejected);
    const sample = parseSessionDer((await newSession('ats-1')).bytes);
    const id = sample.id.toString('hex');
    let refusals = 0;
    try {
      const body = sessionsBody([{ id, der: sample.der, time: nowSeconds() }]);
      const operator = { cert: readFileSync(sc.fleet.files.operatorCert, 'utf8'), key: readFileSync(sc.fleet.files.operatorKey, 'utf8') };
      // The operator's identity is not a peer.
      expect((await callAgent('ats-0', operator, 'POST', '/v1/sessions', body)).status).toBe(403);
      refusals++;
      // A pod of the same CA that is not in the set (another TicketKeySet's pod, say).
      const stranger = await issueAgentCert(sc.fleet.certs.ca, { namespace: sc.ns.name, pod: 'intruder' });
      expect((await callAgent('ats-0', stranger, 'POST', '/v1/sessions', body)).status).toBe(403);
      refusals++;
      // A peer's own name from a foreign CA: the TLS handshake fails.
      const foreign = await issueAgentCert(await createCa(), { namespace: sc.ns.name, pod: 'ats-1' });
      await expect(callAgent('ats-0', foreign, 'POST', '/v1/sessions', body)).rejects.toThrow();
      // A peer on the operator's routes.
      const peer = await sc.fleet.agentCertFor('ats-1');
      expect((await callAgent('ats-0', peer, 'GET', '/v1/ring')).status).toBe(403);
      expect((await callAgent('ats-0', peer, 'PUT', '/v1/session-sharing', { enabled: false, ttlSeconds: 30, maxEntries: 10, peers: [] })).status).toBe(403);
      expect((await sharingOf('ats-0'))!.enabled).toBe(true);

      // A truncated DER: sizes fine, so the agent hands it on; the plugin cannot decode it.
      const truncated = sample.der.subarray(0, sample.der.length - 24);
      const t = await callAgent('ats-0', peer, 'POST', '/v1/sessions', sessionsBody([{ id, der: truncated, time: nowSeconds() }]));
      expect(t.status).toBe(200);
      await untilPluginStat('ats-0', PLUGIN_STATS.sessionsImportRejected, (v) => v > rejectedBefore);
      // An oversized DER (over ATS's 256 bytes): refused by the agent, the batch or the entry.
      const oversized = Buffer.alloc(300, 0x30);
      const o = await callAgent('ats-0', peer, 'POST', '/v1/sessions', sessionsBody([{ id, der: oversized, time: nowSeconds() }]));
      expect(o.status === 400 || (o.status === 200 && o.body.refused === 1 && o.body.accepted === 0)).toBe(true);
      refusals++;
      // An id that is no session id (too long).
      const badId = await callAgent('ats-0', peer, 'POST', '/v1/sessions', { sessions: [{ id: 'ab'.repeat(40), der: sample.der.toString('base64'), time: nowSeconds() }] });
      expect(badId.status === 400 || (badId.status === 200 && badId.body.refused === 1)).toBe(true);
      refusals++;
      // Far in the future.
      const future = await callAgent('ats-0', peer, 'POST', '/v1/sessions', sessionsBody([{ id, der: sample.der, time: nowSeconds() + 3600 }]));
      expect(future.status).toBe(200);
      expect(future.body).toMatchObject({ accepted: 0, refused: 1 });
      refusals++;
    } finally {
      sample.der.fill(0);
    }
    const after = await sharingOf('ats-0');
    expect(after!.refused).toBeGreaterThanOrEqual(refusedBefore['ats-0'].refused + refusals);

    // ATS is the same process, serving, and sharing still works.
    for (const p of PODS) expect((await sc.fleet.get(p).ats!.pids()).server).toBe(atsPids[p]);
    const s = await newSession('ats-1');
    await untilResumes('ats-0', s);
    await untilResumes('ats-2', s);
    await untilStatus(sc.tks, NAME, 'status.pods.sessionSharing counts the refusals', (x) => (summaryOf(x)?.refused ?? 0) >= refusals, 30_000);
  }, 120_000);

  it('no key or session secret in logs, Events, status or metrics', async () => {
    await scanner.collect();
    const sources = await scanSources({ kc: testKubeConfig(), namespace: sc.ns.name, operator: sc.operator, fleet: sc.fleet });
    sources['operator metrics'] = await (await fetch(`${sc.operator.metricsUrl}/metrics`)).text();
    for (const p of PODS) sources[`agent metrics ${p}`] = await (await fetch(`${sc.fleet.get(p).agent!.healthUrl}/metrics`)).text();
    expect(scanner.scan(sources)).toEqual([]);

    expect(sessionSecrets.length).toBeGreaterThan(5);
    const hits: string[] = [];
    for (const [source, text] of Object.entries(sources)) {
      const latin1 = Buffer.from(text, 'latin1');
      sessionSecrets.forEach((secret, i) => {
        for (const n of secretNeedles(secret)) {
          if (typeof n.text === 'string' ? text.includes(n.text) : latin1.includes(n.bytes)) hits.push(`${source}: session ${i} (${n.form})`);
        }
      });
    }
    expect(hits).toEqual([]);
    // The scan covered what it claims to.
    expect(Object.keys(sources).some((k) => k.startsWith('agent log ats-'))).toBe(true);
    expect(Object.keys(sources).some((k) => k.startsWith('ATS ats-'))).toBe(true);
  }, 60_000);
});

/** A 48-byte master secret as it could appear: raw, hex, and base64 at any alignment in a longer encoding. */
function secretNeedles(secret: Buffer): Array<{ form: string; text?: string; bytes: Buffer }> {
  const out: Array<{ form: string; text?: string; bytes: Buffer }> = [
    { form: 'raw', bytes: secret },
    { form: 'hex', text: secret.toString('hex'), bytes: secret },
    { form: 'HEX', text: secret.toString('hex').toUpperCase(), bytes: secret },
  ];
  for (let shift = 0; shift < 3; shift++) {
    const part = secret.subarray(shift, shift + 3 * Math.floor((secret.length - shift) / 3));
    out.push({ form: `base64+${shift}`, text: part.toString('base64'), bytes: secret });
    out.push({ form: `base64url+${shift}`, text: part.toString('base64url'), bytes: secret });
  }
  return out;
}
