// The agent as the pod's config reloader, against a real ATS 9 with the bridge plugin and a real
// `tko agent --config-dir`: the test plays kubelet (atomic writer: timestamped dir, `..data`
// swap) on the mounted directory, runs `traffic_ctl config reload` by hand, and feeds the
// directory garbage; a TLS client resumes the same session throughout and must never fail.
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GetRingResponse, PutRingRequest } from '../../src/agent/protocol.ts';
import { readConfigDir } from '../../src/agent/config-dir-snapshot.ts';
import { keyFingerprint } from '../../src/core/fingerprint.ts';
import { startAtsWithAgent, type AtsWithAgent } from '../../dev/agent-process.ts';
import { waitFor } from '../helpers/ats.ts';
import { atomicWrite } from '../helpers/kubelet-atomic-writer.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';
import { newKey } from '../fixtures/keys.ts';

const ADDR = '127.0.100.1';
let env: AtsWithAgent;
let configDir: string;
let session: Buffer;
let resumptionFailures = 0;

function ring(generation: number, keys: Buffer[]): PutRingRequest {
  return {
    generation,
    keys: keys.map((k, i) => ({ fingerprint: keyFingerprint(k), material: k.toString('base64'), state: i === 0 ? 'active' : 'staged' })),
  };
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${env.agent.healthUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Offers the session taken under the pushed ring: every reload must leave it resumable. */
async function resumeOnce(): Promise<void> {
  const r = await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls: '1.3', session });
  if (!r.resumed) resumptionFailures += 1;
}

async function hashOf(dir: string): Promise<string> {
  const reading = await readConfigDir(dir);
  if (!reading.ok) throw new Error(`unreadable test directory: ${reading.problem.message}`);
  return reading.snapshot.hash;
}

async function lastReloadWith(check: (r: GetRingResponse) => boolean, what: string): Promise<GetRingResponse> {
  let seen: GetRingResponse | undefined;
  await waitFor(async () => {
    await resumeOnce();
    seen = await env.client.getRing();
    return check(seen);
  }, what);
  return seen!;
}

beforeAll(async () => {
  configDir = await mkdtemp(join(tmpdir(), 'tko-configmap-'));
  await atomicWrite(configDir, { 'remap.config': 'map / http://127.0.100.1:1/\n' });
  env = await startAtsWithAgent({ addr: ADDR, agent: { configDir, configDebounceMs: 200 } });
  await env.client.putRing(ring(1, [newKey()]));
  session = (await tlsProbe({ host: ADDR, port: env.ats.tlsPort, tls: '1.3' })).newSession!;
});

afterAll(async () => {
  await env?.stop();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

describe('agent --config-dir against real ATS', () => {
  it('starts from the mounted directory without reloading it', async () => {
    const r = await env.client.getRing();
    expect(r.configHash).toBe(await hashOf(configDir));
    expect(r.lastReload).toBeUndefined();
  });

  it('a ConfigMap edit (several swaps in a burst) reloads ATS once; the ring stays and resumption never fails', async () => {
    await atomicWrite(configDir, { 'remap.config': 'map / http://127.0.100.1:2/\n' });
    await atomicWrite(configDir, { 'remap.config': 'map / http://127.0.100.1:3/\n' });
    const hash = await hashOf(configDir);
    const r = await lastReloadWith((x) => x.lastReload?.configHash === hash, 'reload with the new hash');
    expect(r.lastReload).toMatchObject({ trigger: 'agent', configHash: hash });
    expect(r.configHash).toBe(hash);
    expect(r.inSync).toBe(true);
    expect(r.ats.generation).toBe(1);
    expect(await metric('tko_agent_config_reloads_total', 'result="ok",trigger="agent"')).toBe(1);
    await resumeOnce();
    expect(resumptionFailures).toBe(0);
  });

  it('a reload run by hand with traffic_ctl is detected as external and verified', async () => {
    const before = (await env.client.getRing()).lastReload!.time;
    // reconfigure_time has one-second resolution: a reload in the agent's second is not visible.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await env.ats.trafficCtl(['config', 'reload']);
    const r = await lastReloadWith((x) => x.lastReload !== undefined && x.lastReload.time !== before, 'external reload reported');
    expect(r.lastReload?.trigger).toBe('external');
    expect(r.inSync).toBe(true);
    expect(await metric('tko_agent_config_reloads_total', 'result="ok",trigger="external"')).toBe(1);
    expect(resumptionFailures).toBe(0);
  });

  it('binary data and a symlink loop in the directory are counted problems: no reload, pushes still work', async () => {
    const reloads = await metric('tko_agent_config_reloads_total', 'result="ok",trigger="agent"');
    await atomicWrite(configDir, { 'remap.config': 'map / http://127.0.100.1:3/\n', 'blob.bin': Buffer.from([0, 1, 2, 0xff, 0]) });
    await waitFor(async () => (await metric('tko_agent_config_problems_total')) >= 1, 'binary data reported');
    await symlink('a-loop-2', join(configDir, 'a-loop-1'));
    await symlink('a-loop-1', join(configDir, 'a-loop-2'));
    await waitFor(async () => (await metric('tko_agent_config_problems_total')) >= 2, 'symlink loop reported');
    const put = await env.client.putRing(ring(2, [newKey()]));
    expect(put.generation).toBe(2);
    expect(await metric('tko_agent_config_reloads_total', 'result="ok",trigger="agent"')).toBe(reloads);
    const logs = env.agent.logs().join('\n');
    expect(logs).toContain('config directory unusable');
  });
});
