// The plugin rejects every bad ring message, and ATS keeps its previous keys: proved by the
// plugin's stats AND by real TLS clients (old tickets still resume, new ones still use K1).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import type { Ats9Bridge, PluginStats } from '../../src/agent/ats9/ats9-bridge.ts';
import { encodeRawFrame, FRAME_FLAG_REASSERT, FRAME_FLAG_REVOKE, RING_TAG } from '../../src/agent/ats9/plugin-protocol.ts';
import { ringFingerprint } from '../../src/core/fingerprint.ts';
import {
  keyName,
  keyRenderings,
  newKey,
  pushRing,
  readAtsLogs,
  sendRawMessage,
  waitFor,
  startTestAts,
  waitForRing,
  waitForStats,
  type TestAts,
} from '../helpers/ats.ts';
import { tlsProbe, type TlsVersion } from '../../dev/tls-probe.ts';

const ADDR = '127.0.0.44';
const GENERATION = 10;

let ats: TestAts;
let bridge: Ats9Bridge;
const k1 = newKey();
const sessions = new Map<TlsVersion, Buffer>();
const sentKeys: Buffer[] = [k1];

const fresh = (n = 1) => {
  const keys = Array.from({ length: n }, newKey);
  sentKeys.push(...keys);
  return keys;
};

beforeAll(async () => {
  // Debug logging on: the plugin's debug lines must not leak keys either.
  ats = await startTestAts({ addr: ADDR, debugTags: 'ticketkeys' });
  bridge = ats.createBridge();
  await pushRing(bridge, GENERATION, [k1]);
  for (const tls of ['1.2', '1.3'] as const) {
    sessions.set(tls, (await tlsProbe({ host: ADDR, port: ats.tlsPort, tls })).newSession!);
  }
});

afterAll(async () => {
  await bridge?.close();
  await ats?.dispose();
});

/** Sends, waits until the plugin counted one more rejection, returns the stats then. */
async function expectRejected(send: () => Promise<void>): Promise<PluginStats> {
  const before = await bridge.readStats();
  await send();
  return waitForStats(bridge, (s) => s.rejected === before.rejected + 1, 'rejection');
}

async function expectK1StillServes(): Promise<void> {
  for (const tls of ['1.2', '1.3'] as const) {
    const resumed = await tlsProbe({ host: ADDR, port: ats.tlsPort, tls, session: sessions.get(tls) });
    expect(resumed.resumed).toBe(true);
    const fresh = await tlsProbe({ host: ADDR, port: ats.tlsPort, tls });
    expect(fresh.ticketKeyName).toBe(keyName(k1));
  }
}

const header = { generation: BigInt(GENERATION + 1) };

describe.each<[string, () => Uint8Array]>([
  ['a frame shorter than its header', () => Buffer.from('TKR1\x01\x00')],
  ['a bad magic', () => encodeRawFrame({ ...header, magic: 'TKR2', ring: fresh() })],
  ['an unknown version', () => encodeRawFrame({ ...header, version: 2, ring: fresh() })],
  ['non-zero reserved bytes', () => encodeRawFrame({ ...header, reserved: 1, ring: fresh() })],
  ['an unknown flag', () => encodeRawFrame({ ...header, flags: 0x04, ring: fresh() })],
  ['an empty ring', () => encodeRawFrame({ ...header, ring: [] })],
  ['a 47-byte key', () => encodeRawFrame({ ...header, ring: [fresh()[0]!.subarray(0, 47)] })],
  ['a 49-byte tail', () => encodeRawFrame({ ...header, ring: [...fresh(), Buffer.from([1])] })],
  ['17 keys', () => encodeRawFrame({ ...header, ring: fresh(17) })],
  ['generation 0', () => encodeRawFrame({ generation: 0n, ring: fresh() })],
  ['a generation above 2^63-1', () => encodeRawFrame({ generation: 1n << 63n, ring: fresh() })],
  ['two keys with one name', () => {
    const [a, b] = fresh(2);
    a!.copy(b!, 0, 0, 16);
    return encodeRawFrame({ ...header, ring: [a!, b!] });
  }],
])('a ring message with %s', (_name, frame) => {
  it('is rejected and ATS keeps K1', async () => {
    const stats = await expectRejected(() => sendRawMessage(ats, RING_TAG, frame()));
    expect(stats).toMatchObject({ generation: GENERATION, keyCount: 1, ringFingerprint: ringFingerprint(k1) });
    await expectK1StillServes();
  });
});

describe('generations', () => {
  it('a stale generation is rejected and ATS keeps K1', async () => {
    const stats = await expectRejected(() => bridge.install({ generation: GENERATION - 1, keys: fresh(), revoke: false }));
    expect(stats).toMatchObject({ generation: GENERATION, ringFingerprint: ringFingerprint(k1) });
    await expectK1StillServes();
  });

  it('a replay of the installed generation is rejected and ATS keeps K1', async () => {
    const stats = await expectRejected(() => bridge.install({ generation: GENERATION, keys: fresh(), revoke: false }));
    expect(stats).toMatchObject({ generation: GENERATION, ringFingerprint: ringFingerprint(k1) });
    await expectK1StillServes();
  });

  // Straight to the mgmt socket, as any process in the pod could: the plugin itself refuses.
  it.each<[string, bigint, number]>([
    ['a revoke with an older generation', BigInt(GENERATION - 9), FRAME_FLAG_REVOKE],
    ['a revoke with the installed generation', BigInt(GENERATION), FRAME_FLAG_REVOKE],
    ['a reassert with an older generation', BigInt(GENERATION - 1), FRAME_FLAG_REASSERT],
    ['a revoke + reassert with an older generation', BigInt(GENERATION - 1), FRAME_FLAG_REVOKE | FRAME_FLAG_REASSERT],
  ])('%s is rejected (never a rollback) and ATS keeps K1', async (_name, generation, flags) => {
    const stats = await expectRejected(() => sendRawMessage(ats, RING_TAG, encodeRawFrame({ generation, flags, ring: fresh() })));
    expect(stats).toMatchObject({ generation: GENERATION, ringFingerprint: ringFingerprint(k1) });
    await expectK1StillServes();
  });

  it('a reassert replaces another ring at the installed generation; a revoke installs only above it', async () => {
    const [kr] = fresh();
    await bridge.install({ generation: GENERATION, keys: [kr!], revoke: false, reassert: true });
    await waitForRing(bridge, GENERATION, [kr!]);
    expect((await tlsProbe({ host: ADDR, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(kr!));

    const [k11] = fresh();
    await bridge.install({ generation: GENERATION + 1, keys: [k11!], revoke: true });
    await waitForRing(bridge, GENERATION + 1, [k11!]);
    expect((await tlsProbe({ host: ADDR, port: ats.tlsPort, tls: '1.3', session: sessions.get('1.3') })).resumed).toBe(false);
    expect((await tlsProbe({ host: ADDR, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(k11!));
    // A revoke is an incident: ATS's diags.log says so (at warning, without keys, see below).
    await waitFor(async () => (await readAtsLogs(ats)).includes(`revoke: installed generation ${GENERATION + 1}`), 'revoke warning');
  });
});

describe('key hygiene', () => {
  it('logs contain no key bytes, after accepted and rejected rings with debug logging on', async () => {
    const logs = await readAtsLogs(ats);
    expect(logs).toContain('rejected ring'); // the rejections were logged...
    for (const k of sentKeys) for (const r of keyRenderings(k)) expect(logs.includes(r)).toBe(false); // ...without keys
  });

  it('traffic_server runs with core dumps off, and the plugin’s key store is marked no-dump and locked', async () => {
    const { server } = await ats.pids();
    const limits = await readFile(`/proc/${server}/limits`, 'utf8');
    expect(limits).toMatch(/^Max core file size\s+0\s+0\s/m);

    // The plugin's store: one anonymous page with VmFlags "dd" (MADV_DONTDUMP) and "lo" (mlock).
    const smaps = await readFile(`/proc/${server}/smaps`, 'utf8');
    const store = smaps
      .split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)
      .filter((m) => /^Size:\s+4 kB$/m.test(m))
      .map((m) => /^VmFlags:(.*)$/m.exec(m)?.[1]?.trim().split(' ') ?? [])
      .filter((flags) => flags.includes('dd') && flags.includes('lo'));
    expect(store).toHaveLength(1);
    // ...and the plugin says so in its stat (the agent exports it as tko_agent_plugin_mlock_failed).
    expect((await bridge.readStats()).mlockFailed).toBe(false);
  });
});
