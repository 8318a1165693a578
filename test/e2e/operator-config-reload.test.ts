// ConfigMap-driven ATS reloads with the operator in the loop: three pods each running a real
// ATS (bridge plugin) on one ConfigMap's files and a real `tko agent --config-dir`, a real
// operator reading the same ConfigMap (spec.atsConfig.configMapRef), and a TLS client resuming
// round-robin across the pods throughout. The test plays kubelet: after each ConfigMap edit it
// reads the ConfigMap back and publishes its data into each pod's mounted directory as kubelet's
// atomic writer does (timestamped dir, `..data` swap), a second apart, as kubelet's sync loops
// would be; one pod it leaves behind for a while, as a slow kubelet would. The ConfigMap holds
// the pods' whole config directory (helpers/ats-config-map.ts), so the hash the operator
// computes from it is the one each agent computes from its mount. Numbers (publish → status,
// file-key tickets after a relative ticket_key.filename) go to test-results/operator-config-reload.json.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import type { TicketKeySet, TicketKeySetStatus } from '../../src/api/index.ts';
import { secretName } from '../../src/api/names.ts';
import type { AgentClient } from '../../src/agent/client.ts';
import { configFilesHash, configMapFiles } from '../../src/core/ats-config/config-hash.ts';
import { decodeSecret } from '../../src/core/secret-format.ts';
import { recordMeasurement } from '../helpers/ats.ts';
import { podListenEnv, sharedAtsConfig } from '../helpers/ats-config-map.ts';
import { FaultObservers } from '../helpers/fault-observers.ts';
import { eventually, testKubeConfig } from '../helpers/kube.ts';
import { atomicWrite } from '../helpers/kubelet-atomic-writer.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { currentRingOf } from '../helpers/status-watch.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';
import { keyName, newKey } from '../fixtures/keys.ts';

const PORT = 19530;
const TLS_PORT = 18530;
const CM = 'ats-config';
const TKS = 'edge';
const PODS = ['ats-0', 'ats-1', 'ats-2'];
const IPS = PODS.map((_, i) => `127.0.130.${1 + i}`);
/** Between two pods' publishes of one edit (kubelets sync independently). */
const KUBELET_STAGGER_MS = 1000;
/** ticketLifetime 60s: the ticket lifetime hint (session_cache.timeout) must stay within it. */
const RECORDS = ['CONFIG proxy.config.ssl.session_cache.timeout INT 60'];
const ROLLOUT_BOUND_S = 15;

const sc = useOperatorScenario('operator-config-reload', {
  port: PORT,
  pods: PODS.map((name, i) => ({
    name,
    ip: IPS[i]!,
    labels: { app: 'reload' },
    ats: true,
    tlsPort: TLS_PORT,
    configDir: true,
    atsOptions: { env: podListenEnv(IPS[i]!, TLS_PORT) },
    // Started once ATS runs on the ConfigMap's files (beforeAll below).
    startAgent: false,
  })),
  // Short enough for a test to see a lagging pod named (kubelet's real lag is 60–120 s).
  operator: { configRolloutBound: `${ROLLOUT_BOUND_S}s` },
  setupTimeoutMs: 120_000,
  teardownTimeoutMs: 60_000,
});
const core = () => testKubeConfig().makeApiClient(CoreV1Api);
const clients = new Map<string, AgentClient>();
const client = (pod: string) => clients.get(pod) ?? clients.set(pod, sc.fleet.client(pod)).get(pod)!;
let obs: FaultObservers;
let remapBase: string;
/** configHash → when each pod's directory got it (ms since the epoch). */
const publishedAt = new Map<string, Map<string, number>>();
const measured: Record<string, unknown> = {};

async function putConfigMap(data: Record<string, string>): Promise<string> {
  const api = core();
  const current = await api.readNamespacedConfigMap({ namespace: sc.ns.name, name: CM });
  await api.replaceNamespacedConfigMap({ namespace: sc.ns.name, name: CM, body: { ...current, data } });
  return configFilesHash(configMapFiles(data));
}

/** Kubelet's part: the ConfigMap as the API server has it now, written into the pods' volumes one after another. */
async function kubeletPublish(pods: readonly string[]): Promise<string> {
  const cm = await core().readNamespacedConfigMap({ namespace: sc.ns.name, name: CM });
  const data = cm.data ?? {};
  const hash = configFilesHash(configMapFiles(data, cm.binaryData ?? {}));
  const times = publishedAt.get(hash) ?? new Map<string, number>();
  publishedAt.set(hash, times);
  for (const [i, pod] of pods.entries()) {
    if (i > 0) await sleep(KUBELET_STAGGER_MS);
    await atomicWrite(sc.fleet.get(pod).ats!.configDir, data);
    times.set(pod, Date.now());
  }
  return hash;
}

const item = (t: TicketKeySet, pod: string) => t.status?.pods?.items?.find((i) => i.name === pod);
const configConditionOf = (status: TicketKeySetStatus | undefined) => status?.conditions?.find((c) => c.type === 'ConfigConsistent');
const configCondition = (t: TicketKeySet) => configConditionOf(t.status);

/**
 * Polls the status until each of `pods` shows `hash` (with a lastReloadTime after its publish);
 * returns, per pod, the ms from the publish to the first status read that showed it.
 */
async function untilStatusHashes(hash: string, pods: readonly string[]): Promise<Record<string, number>> {
  const latency: Record<string, number> = {};
  await eventually(
    `status items of ${pods.join(', ')} on ${hash.slice(0, 19)}…`,
    async () => {
      const t = await sc.tks.get(TKS);
      for (const pod of pods) {
        const i = item(t, pod);
        const published = publishedAt.get(hash)?.get(pod);
        if (latency[pod] === undefined && published !== undefined && i?.configHash === hash && Date.parse(i.lastReloadTime ?? '') >= published - 1000) {
          latency[pod] = Date.now() - published;
        }
      }
      return pods.every((p) => latency[p] !== undefined) ? true : undefined;
    },
    60_000,
  );
  return latency;
}

async function metric(pod: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${sc.fleet.get(pod).agent!.healthUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
const agentReloads = (pod: string) => metric(pod, 'tko_agent_config_reloads_total', 'result="ok",trigger="agent"');
/** Reloads an agent counted as failed or as someone else's: none here (its own reloads are not external). */
const otherReloads = async (pod: string) =>
  (await metric(pod, 'tko_agent_config_reloads_total', 'result="failed",trigger="agent"')) + (await metric(pod, 'tko_agent_config_reloads_total', 'result="ok",trigger="external"'));

/** Every pod's ATS holds the ring the status names (generation and fingerprint), read from the agents. */
async function untilPodsHoldStatusRing(what: string): Promise<void> {
  await eventually(
    what,
    async () => {
      const ring = currentRingOf((await sc.tks.get(TKS)).status);
      if (ring.ringFingerprint === undefined) return undefined;
      for (const pod of PODS) {
        const r = await client(pod).getRing();
        if (r.ats.generation !== ring.generation || r.ats.ringFingerprint !== ring.ringFingerprint) return undefined;
      }
      return true;
    },
    30_000,
  );
}

/** Key names (hex, first 16 bytes) of the owned Secret's keys by state; compared only, never printed. */
async function secretKeyNames(): Promise<{ active: string; all: Set<string> }> {
  const s = await core().readNamespacedSecret({ namespace: sc.ns.name, name: secretName(TKS) });
  const state = decodeSecret({ data: s.data ?? {}, annotations: s.metadata?.annotations ?? {} });
  const all = new Set<string>();
  let active = '';
  for (const k of state.keys) {
    const bytes = k.material.copyBytes();
    const name = keyName(bytes);
    bytes.fill(0);
    all.add(name);
    if (k.state === 'active') active = name;
    k.material.destroy();
  }
  return { active, all };
}

/**
 * Each run of file-key tickets on a pod: when it started after that pod's publish, and the
 * window bound (from the ticket before it to the ticket after it, both under the ring).
 */
function fileKeySightings(tickets: Map<string, Array<{ at: number; fileKey: boolean }>>, hash: string): Array<{ pod: string; afterPublishMs: number; count: number; windowAtMostMs: number | null }> {
  const out = [];
  for (const [pod, list] of tickets) {
    const published = publishedAt.get(hash)?.get(pod) ?? 0;
    for (let i = 0; i < list.length; i++) {
      if (!list[i]!.fileKey) continue;
      let j = i;
      while (j + 1 < list.length && list[j + 1]!.fileKey) j++;
      const before = list[i - 1]?.at;
      const after = list[j + 1]?.at;
      out.push({ pod, afterPublishMs: list[i]!.at - published, count: j - i + 1, windowAtMostMs: before !== undefined && after !== undefined ? after - before : null });
      i = j;
    }
  }
  return out;
}

beforeAll(async () => {
  // The pods' one configuration: a ConfigMap, mounted by kubelet, ATS restarted on it (as a pod
  // starting on that volume), then the agents watching the mounted directories.
  const ats0 = sc.fleet.get(PODS[0]!).ats!;
  remapBase = `map / http://${ats0.addr}:${ats0.originPort}/\n`;
  const data = await sharedAtsConfig({ tlsPort: TLS_PORT, remap: remapBase, extraRecords: RECORDS });
  await core().createNamespacedConfigMap({ namespace: sc.ns.name, body: { metadata: { name: CM }, data } });
  const hash = await kubeletPublish(PODS);
  await Promise.all(
    PODS.map(async (pod) => {
      await sc.fleet.get(pod).ats!.restart();
      await sc.fleet.startAgent(pod);
    }),
  );
  await sc.tks.create(
    ticketKeySet(TKS, {
      selector: { matchLabels: { app: 'reload' } },
      rotation: { interval: '20s' },
      ticketLifetime: '60s',
      promotion: { timeout: '5s' },
      agent: { port: PORT },
      atsConfig: { configMapRef: { name: CM } },
    }),
  );
  await untilStatus(
    sc.tks,
    TKS,
    'first ring on 3 pods, ConfigConsistent True, every pod on the ConfigMap hash',
    (t) => t.status?.pods?.converged === 3 && configCondition(t)?.status === 'True' && PODS.every((p) => item(t, p)?.configHash === hash),
  );
  // Started with the ConfigMap's files: recorded, never reloaded.
  for (const pod of PODS) {
    const r = await client(pod).getRing();
    expect(r.configHash).toBe(hash);
    expect(r.lastReload).toBeUndefined();
  }
  obs = new FaultObservers({ sc, kc: testKubeConfig(), name: TKS, pods: PODS, tlsPort: TLS_PORT });
  obs.start();
}, 180_000);

afterAll(async () => {
  await obs?.stop();
  await recordMeasurement('operator-config-reload.json', 'run', measured).catch(() => {});
}, 30_000);

describe('operator + agents + real ATS: ConfigMap-driven reloads', () => {
  it('an edit reaches every pod: one reload each, the new hash in status, ConfigConsistent True, keys stay the ring, no resumption fails', async () => {
    const since = Date.now();
    const startKey = (await sc.tks.get(TKS)).status?.activeKey?.fingerprint;
    const data = await sharedAtsConfig({ tlsPort: TLS_PORT, remap: `${remapBase}map /v2/ http://${IPS[0]}:${sc.fleet.get(PODS[0]!).ats!.originPort}/\n`, extraRecords: RECORDS });
    const hash = await putConfigMap(data);
    expect(await kubeletPublish(PODS)).toBe(hash);
    const latency = await untilStatusHashes(hash, PODS);
    measured.publishToStatusMs = latency;
    process.stdout.write(`publish → status shows the new hash (ms): ${JSON.stringify(latency)}\n`);

    for (const pod of PODS) {
      const r = await client(pod).getRing();
      expect(r.configHash).toBe(hash);
      expect(r.lastReload).toMatchObject({ trigger: 'agent', configHash: hash });
      expect(r.inSync).toBe(true);
    }
    // Debounced: one swap, one reload, and nothing more once things settle.
    await sleep(3000);
    const reloads = await Promise.all(PODS.map(agentReloads));
    measured.reloadsAfterEdit1 = reloads;
    expect(reloads).toEqual([1, 1, 1]);
    expect(await Promise.all(PODS.map(otherReloads))).toEqual([0, 0, 0]);
    await untilPodsHoldStatusRing('every pod holds the status ring after the edit');

    // Keep the client running across at least one rotation (stage + promote).
    const rotated = await untilStatus(sc.tks, TKS, 'a rotation', (t) => t.status?.activeKey?.fingerprint !== startKey && t.status?.phase === 'Stable', 60_000);
    expect(rotated.status?.activeKey?.fingerprint).not.toBe(startKey);
    await untilPodsHoldStatusRing('every pod holds the rotated ring');

    const samples = obs.status.samples().filter((s) => s.at >= since);
    expect(samples.length).toBeGreaterThan(5);
    expect(samples.map((s) => configConditionOf(s.status)?.status).filter((x) => x !== 'True')).toEqual([]);
    expect(obs.status.violations()).toEqual([]);
    expect(obs.rings.regressions()).toEqual([]);
    const counts = obs.client.counts({ since });
    measured.resumptionEdit1 = counts;
    expect(obs.client.failed({ since })).toEqual([]);
    expect(counts.resumed).toBeGreaterThan(20);
  }, 120_000);

  it('a pod kubelet has not refreshed yet keeps the old hash in status while the others show the new one', async () => {
    const since = Date.now();
    const before = (await sc.tks.get(TKS)).status!;
    const oldHash = item({ status: before } as TicketKeySet, PODS[2]!)!.configHash!;
    const data = await sharedAtsConfig({ tlsPort: TLS_PORT, remap: `${remapBase}map /v3/ http://${IPS[0]}:${sc.fleet.get(PODS[0]!).ats!.originPort}/\n`, extraRecords: RECORDS });
    const hash = await putConfigMap(data);
    await kubeletPublish(PODS.slice(0, 2));
    measured.publishToStatusMsPartial = await untilStatusHashes(hash, PODS.slice(0, 2));
    const t = await sc.tks.get(TKS);
    expect(item(t, PODS[2]!)?.configHash).toBe(oldHash);
    expect(item(t, PODS[2]!)?.lastReloadTime).toBe(before.pods!.items!.find((i) => i.name === PODS[2])!.lastReloadTime);
    expect(await agentReloads(PODS[2]!)).toBe(1);
    // Past the rollout bound the lagging pod is named, and only it; a lag is not an inconsistency.
    const late = `pods still on an older configuration ${ROLLOUT_BOUND_S}s after ${hash.slice(0, 19)}… was first seen: ${PODS[2]}`;
    const named = await untilStatus(sc.tks, TKS, 'the lagging pod named', (x) => configCondition(x)?.message.includes(late) === true, 60_000);
    expect(configCondition(named)).toMatchObject({ status: 'True', reason: 'Consistent' });
    expect(configCondition(named)?.message.endsWith(late)).toBe(true);
    expect(item(named, PODS[2]!)?.configHash).toBe(oldHash);

    // Kubelet catches up: the last pod reloads too, once, and is no longer named.
    await kubeletPublish(PODS.slice(2));
    measured.publishToStatusMsLate = await untilStatusHashes(hash, PODS.slice(2));
    await untilStatus(sc.tks, TKS, 'no pod named late', (x) => configCondition(x)?.message.includes('older configuration') === false);
    await sleep(3000);
    expect(await Promise.all(PODS.map(agentReloads))).toEqual([2, 2, 2]);
    await untilPodsHoldStatusRing('every pod holds the status ring');
    expect(obs.client.failed({ since })).toEqual([]);
    expect(obs.status.violations()).toEqual([]);
  }, 120_000);

  it('a relative ticket_key.filename: flagged, applied anyway, and every pod ends on the fleet ring issuing tickets with the pushed key', async () => {
    const since = Date.now();
    // A stale key file beside each pod's config (one for all pods, as a mounted Secret would be),
    // reached through a path relative to the sysconfdir.
    const fileKey = newKey();
    const fileKeyName = keyName(fileKey);
    for (const pod of PODS) await writeFile(join(sc.fleet.get(pod).ats!.runroot, 'ticket.key'), fileKey, { mode: 0o600 });
    const data = await sharedAtsConfig({
      tlsPort: TLS_PORT,
      remap: remapBase,
      extraRecords: [...RECORDS, 'CONFIG proxy.config.ssl.server.ticket_key.filename STRING ../ticket.key'],
    });
    const hash = await putConfigMap(data);
    const flagged = await untilStatus(sc.tks, TKS, 'ConfigConsistent RelativeTicketKeyFile', (t) => configCondition(t)?.reason === 'RelativeTicketKeyFile');
    expect(configCondition(flagged)).toMatchObject({ status: 'False' });
    expect(configCondition(flagged)?.message).toContain('proxy.config.ssl.server.ticket_key.filename is the relative path "../ticket.key"');
    await eventually('Warning Event RelativeTicketKeyFile', async () =>
      (await ticketKeySetEvents(testKubeConfig(), sc.ns.name, TKS)).find((e) => e.type === 'Warning' && e.reason === 'RelativeTicketKeyFile'),
    );

    // Applied anyway (kubelet does not ask): watch what ATS really issues while the pods reload.
    const seen = { ring: 0, fileKey: 0, other: 0 };
    /** Per pod, each new ticket's time and whether its key was the file's. */
    const tickets = new Map<string, Array<{ at: number; fileKey: boolean }>>(PODS.map((p) => [p, []]));
    let probing = true;
    const probe = (async () => {
      let ring = await secretKeyNames();
      let ringReadAt = Date.now();
      for (let i = 0; probing; i++) {
        const at = Date.now();
        const r = await tlsProbe({ host: IPS[i % IPS.length]!, port: TLS_PORT, tls: '1.3', timeoutMs: 3000 }).catch(() => undefined);
        if (!r?.ticketKeyName) continue;
        const fileKey = r.ticketKeyName === fileKeyName;
        // A key promoted since the last read is in the Secret (written before every push): read again.
        if (!fileKey && (!ring.all.has(r.ticketKeyName) || Date.now() - ringReadAt > 1000)) [ring, ringReadAt] = [await secretKeyNames(), Date.now()];
        tickets.get(PODS[i % PODS.length]!)!.push({ at, fileKey });
        if (fileKey) seen.fileKey++;
        else if (ring.all.has(r.ticketKeyName)) seen.ring++;
        else seen.other++;
      }
    })();
    await kubeletPublish(PODS);
    await untilStatusHashes(hash, PODS);
    // ATS's key loader runs 3–13 s after a reload (docs/agent.md); the plugin re-applies for 30 s.
    await sleep(15_000);
    probing = false;
    await probe;
    measured.drift = { ticketsSeen: seen, fileKeyTickets: fileKeySightings(tickets, hash) };
    process.stdout.write(`relative key file: ${JSON.stringify(measured.drift)}\n`);
    // Only the ring's keys and, briefly, the file's: never keys of ATS's own making.
    expect(seen.other).toBe(0);

    const reports = await Promise.all(PODS.map((pod) => client(pod).getRing()));
    measured.driftReloads = reports.map((r) => r.lastReload);
    for (const r of reports) {
      expect(r.lastReload).toMatchObject({ trigger: 'agent', configHash: hash });
      expect(r.inSync).toBe(true);
    }
    expect(await Promise.all(PODS.map(agentReloads))).toEqual([3, 3, 3]);
    expect(await Promise.all(PODS.map(otherReloads))).toEqual([0, 0, 0]);
    await untilPodsHoldStatusRing('every pod holds the status ring after the drift edit');
    // What ATS serves now: tickets under the pushed active key, never the file's.
    const { active } = await secretKeyNames();
    for (const ip of IPS) {
      const r = await tlsProbe({ host: ip, port: TLS_PORT, tls: '1.3' });
      expect(r.ticketKeyName === active ? 'pushed active key' : r.ticketKeyName === fileKeyName ? 'the file key' : 'another key').toBe('pushed active key');
    }
    // Settled: resumption across pods works again. (While the file's key was live, sessions it
    // sealed could not resume on pods already back on the ring: what RelativeTicketKeyFile warns of.)
    const settled = Date.now();
    await sleep(3000);
    expect(obs.client.failed({ since: settled })).toEqual([]);
    expect(obs.client.counts({ since: settled }).resumed).toBeGreaterThan(10);
    // The operator sees ATS through the plugin's stats; it re-pushes (ReloadDriftCorrected) only if it saw drift.
    const events = await ticketKeySetEvents(testKubeConfig(), sc.ns.name, TKS);
    const corrected = events.filter((e) => e.reason === 'ReloadDriftCorrected');
    measured.reloadDriftCorrected = corrected.length;
    measured.resumptionDrift = { counts: obs.client.counts({ since }), failed: obs.client.failed({ since }).map((a) => ({ ...a, at: a.at - since })) };
    for (const e of corrected) {
      expect(e.type).toBe('Warning');
      expect(e.note).toMatch(/after ATS reloaded its configuration at .*; re-pushed generation \d+/);
    }
    expect(obs.status.violations()).toEqual([]);
    expect(obs.rings.regressions()).toEqual([]);
    fileKey.fill(0);
  }, 120_000);

  it('no key bytes in operator, agent or ATS logs, Events or status', async () => {
    await obs.stop();
    expect(obs.keys.keyCount).toBeGreaterThanOrEqual(3);
    expect(await obs.keyLeaks()).toEqual([]);
  });
});
