// The plugin's confirmation channel against a real ATS 9 with the bridge plugin loaded with
// --ack-fifo: installs confirmed by the plugin's own record (not the stats), rejections reported
// with the plugin's reason, a missing or full reader never blocking ATS (dropped acks counted),
// hostile FIFO content ignored and counted by a real `tko agent` process, and a re-assert after an
// ATS restart confirmed by the restarted plugin's ack.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AtsRejectedError } from '../../src/agent/ats-bridge.ts';
import { Ats9Bridge } from '../../src/agent/ats9/ats9-bridge.ts';
import type { PutRingRequest } from '../../src/agent/protocol.ts';
import { keyFingerprint, ringFingerprint } from '../../src/core/fingerprint.ts';
import { createDevCerts, writeDevCerts } from '../../src/dev/certs.ts';
import { spawnAgent, type SpawnedAgent } from '../../dev/agent-process.ts';
import { keyName, newKey, startTestAts, waitFor, waitForRing, waitForStats, type TestAts } from '../helpers/ats.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';
import type { AgentClient } from '../../src/agent/client.ts';

const BRIDGE_ADDR = '127.0.0.63';
const AGENT_ADDR = '127.0.0.64';
const RESTART_ADDR = '127.0.0.66';

/** Every line `name{labels} value` of a Prometheus text page, as a map. */
async function scrape(healthUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${healthUrl}/metrics`);
  const text = await res.text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Writes bytes into the FIFO as any process of the pod could (the agent holds the read end). */
function writeFifo(path: string, data: Buffer | string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  } finally {
    closeSync(fd);
  }
}

describe('the bridge over the ack channel (real ATS, real plugin)', () => {
  let dir: string;
  let ats: TestAts;
  let bridge: Ats9Bridge;
  let fifo: string;
  let generation = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tko-ack-'));
    await mkdir(join(dir, 'shared'));
    fifo = join(dir, 'shared', 'ticketkeys-acks');
    ats = await startTestAts({ dir: join(dir, 'ats'), addr: BRIDGE_ADDR, pluginArgs: [`--ack-fifo=${fifo}`] });
  });
  afterAll(async () => {
    await bridge?.close();
    await ats?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('with no reader (no FIFO at the path) an install still lands and the dropped ack is counted', async () => {
    const plain = ats.createBridge();
    try {
      const k = newKey();
      await plain.install({ generation: ++generation, keys: [k], revoke: false });
      const stats = await waitForRing(plain, generation, [k]);
      expect(stats.acksSent).toBe(0);
      const dropped = await waitForStats(plain, (s) => (s.acksDropped ?? 0) >= 1, 'acks_dropped counted');
      expect(dropped.acksDropped).toBe(1);
      expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(k));
    } finally {
      await plain.close();
    }
  });

  it('an install is confirmed by the plugin\'s ack, which the stats then agree with', async () => {
    bridge = await Ats9Bridge.create({ socketPath: ats.mgmtSocket }, { ackFifo: fifo, ackWaitMs: 10_000 });
    const keys = [newKey(), newKey()];
    const receipt = await bridge.installWithReceipt({ generation: ++generation, keys, revoke: false });
    expect(receipt).toEqual({ generation, keyCount: 2, ringFingerprint: ringFingerprint(Buffer.concat(keys)) });
    expect(bridge.ackChannel!.counts).toMatchObject({ matched: 1, unmatched: 0, invalid: 0 });
    // What readInstalled reports right away is the acked ring (stats may lag); the stats agree later.
    expect(await bridge.readInstalled()).toMatchObject({ generation, keyCount: 2, ringFingerprint: ringFingerprint(Buffer.concat(keys)) });
    const stats = await waitForRing(bridge, generation, keys);
    expect(stats.acksSent).toBeGreaterThanOrEqual(1);
    expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(keys[0]!));
  });

  it('a stale generation is reported as rejected, with the plugin\'s reason and the generation it holds', async () => {
    const err = await bridge.installWithReceipt({ generation: generation - 1, keys: [newKey()], revoke: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AtsRejectedError);
    expect(err).toMatchObject({ reason: 'stale_generation', installedGeneration: generation });
  });

  it('a ring with two keys of one name is reported as rejected, and ATS keeps its ring', async () => {
    const k = newKey();
    const twin = Buffer.concat([k.subarray(0, 16), randomBytes(32)]);
    const err = await bridge.installWithReceipt({ generation: generation + 1, keys: [k, twin], revoke: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'AtsRejectedError', reason: 'duplicate_key_name', installedGeneration: generation });
    expect((await bridge.readStats()).generation).toBe(generation);
  });

  it('a cache flush is acknowledged on the channel', async () => {
    const before = bridge.ackChannel!.counts.flush;
    await bridge.flushSessionCache();
    await waitFor(async () => bridge.ackChannel!.counts.flush === before + 1, 'flush ack read');
  });

  it('a FIFO without a reader (the agent gone) never blocks ATS: the install lands, the ack is dropped and counted', async () => {
    await bridge.close(); // the only read end
    bridge = undefined as unknown as Ats9Bridge;
    const plain = ats.createBridge();
    try {
      const droppedBefore = (await plain.readStats()).acksDropped ?? 0;
      const k = newKey();
      await plain.install({ generation: ++generation, keys: [k], revoke: false });
      await waitForRing(plain, generation, [k]);
      await waitForStats(plain, (s) => (s.acksDropped ?? 0) === droppedBefore + 1, 'reader-less ack counted as dropped');
      expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(k));
    } finally {
      await plain.close();
    }
  });

  it('a FIFO nobody drains (pipe full) never blocks ATS: the install lands, the ack is dropped and counted', async () => {
    // A read end that never reads, filled up to EAGAIN, so the plugin's write fails too.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const plain = ats.createBridge();
    try {
      const chunk = Buffer.alloc(4096, 0x78);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
      }
      const droppedBefore = (await plain.readStats()).acksDropped ?? 0;
      const k = newKey();
      await plain.install({ generation: ++generation, keys: [k], revoke: false });
      await waitForRing(plain, generation, [k]);
      await waitForStats(plain, (s) => (s.acksDropped ?? 0) === droppedBefore + 1, 'full-pipe ack counted as dropped');
      expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(k));
    } finally {
      closeSync(fd);
      await plain.close();
    }
  });
});

describe('a tko agent with --ack-fifo (real ATS, real plugin)', () => {
  let dir: string;
  let ats: TestAts;
  let agent: SpawnedAgent;
  let client: AgentClient;
  let fifo: string;
  let generation = 0;

  const ring = (keys: Buffer[]): PutRingRequest => ({
    generation: ++generation,
    keys: keys.map((k, i) => ({ fingerprint: keyFingerprint(k), material: k.toString('base64'), state: i === 0 ? 'active' : 'staged' })),
  });
  const metric = async (name: string) => (await scrape(agent.healthUrl)).get(name) ?? 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tko-ack-agent-'));
    await mkdir(join(dir, 'shared'));
    fifo = join(dir, 'shared', 'ticketkeys-acks');
    ats = await startTestAts({ dir: join(dir, 'ats'), addr: AGENT_ADDR, pluginArgs: [`--ack-fifo=${fifo}`] });
    const files = await writeDevCerts(join(dir, 'certs'), await createDevCerts());
    // A slow re-assert loop: the stats path must not confirm the install before the ack does.
    agent = await spawnAgent({ certs: files, atsRunroot: ats.runroot, host: AGENT_ADDR, reassertIntervalMs: 60_000, extraArgs: ['--ack-fifo', fifo, '--ack-wait-ms', '10000'] });
    client = agent.client();
  });
  afterAll(async () => {
    await client?.close();
    await agent?.stop();
    await ats?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a PUT on the plugin\'s ack, not on the stats read-back', async () => {
    const keys = [newKey(), newKey()];
    const res = await client.putRing(ring(keys));
    expect(res.ringFingerprint).toBe(ringFingerprint(Buffer.concat(keys)));
    expect(await metric('tko_agent_install_confirmations_total{via="ack"}')).toBe(1);
    expect(await metric('tko_agent_install_confirmations_total{via="stats"}')).toBe(0);
    expect(await metric('tko_agent_ack_records_total{outcome="matched"}')).toBe(1);
    expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(keys[0]!));
    const plain = ats.createBridge();
    try {
      await waitForRing(plain, generation, keys); // the stats agree, later
    } finally {
      await plain.close();
    }
  });

  it('ignores and counts hostile FIFO content without crashing, and keeps confirming installs by ack', async () => {
    const gen = generation;
    writeFifo(fifo, Buffer.concat([randomBytes(300).map((b) => (b === 0x0a ? 0x20 : b)), Buffer.from('\n')])); // binary garbage
    writeFifo(fifo, 'tka1 seq=1 kind=ring result=installed gen=1 keys=1\n'); // fields missing
    writeFifo(fifo, 'tka1 seq=1 kind=ring result=installed gen=-4 keys=1 fp=0000000000000001 installed=1 loaded_at=1\n');
    writeFifo(fifo, `${'x'.repeat(3000)}\n`); // oversized line, one write
    writeFifo(fifo, `tka1 seq=9 kind=ring result=installed gen=${gen + 1000} keys=1 fp=0123456789abcdef installed=${gen + 1000} loaded_at=1\n`); // forged, unknown generation
    await waitFor(async () => (await metric('tko_agent_ack_records_total{outcome="unmatched"}')) === 1, 'forged ack counted as unmatched');
    expect(await metric('tko_agent_ack_records_total{outcome="invalid"}')).toBe(3);
    expect(await metric('tko_agent_ack_records_total{outcome="oversized"}')).toBe(1);
    expect(await metric('tko_agent_ack_records_total{outcome="matched"}')).toBe(1);
    // The forged record changed nothing: the agent still reports what ATS holds.
    const seen = await client.getRing();
    expect(seen.ats.generation).toBe(gen);
    expect(seen.inSync).toBe(true);
    expect((await fetch(`${agent.healthUrl}/healthz`)).status).toBe(200);

    const keys = [newKey()];
    await client.putRing(ring(keys));
    expect(await metric('tko_agent_install_confirmations_total{via="ack"}')).toBe(2);
    expect(await metric('tko_agent_install_confirmations_total{via="stats"}')).toBe(0);
    expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(keys[0]!));
  });
});

describe('ATS restarts under a tko agent with --ack-fifo', () => {
  let dir: string;
  let ats: TestAts;
  let agent: SpawnedAgent;
  let client: AgentClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tko-ack-restart-'));
    await mkdir(join(dir, 'shared'));
    const fifo = join(dir, 'shared', 'ticketkeys-acks');
    ats = await startTestAts({ dir: join(dir, 'ats'), addr: RESTART_ADDR, pluginArgs: [`--ack-fifo=${fifo}`] });
    const files = await writeDevCerts(join(dir, 'certs'), await createDevCerts());
    agent = await spawnAgent({ certs: files, atsRunroot: ats.runroot, host: RESTART_ADDR, extraArgs: ['--ack-fifo', fifo, '--ack-wait-ms', '10000'] });
    client = agent.client();
  });
  afterAll(async () => {
    await client?.close();
    await agent?.stop();
    await ats?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('the re-asserted ring is confirmed by the restarted plugin\'s ack', async () => {
    const metric = async (name: string) => (await scrape(agent.healthUrl)).get(name) ?? 0;
    const k = newKey();
    await client.putRing({ generation: 1, keys: [{ fingerprint: keyFingerprint(k), material: k.toString('base64'), state: 'active' }] });
    expect(await metric('tko_agent_install_confirmations_total{via="ack"}')).toBe(1);

    await ats.restart(); // a new traffic_server: pushed keys gone, the plugin loaded again
    await waitFor(async () => (await metric('tko_agent_ring_reasserts_total{result="installed"}')) >= 1, 're-assert after the restart');
    const seen = await client.getRing();
    expect(seen.ats.generation).toBe(1);
    expect(seen.inSync).toBe(true);
    expect(await metric('tko_agent_install_confirmations_total{via="ack"}')).toBeGreaterThanOrEqual(2);
    expect(await metric('tko_agent_install_confirmations_total{via="stats"}')).toBe(0);
    expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(k));
  });
});
