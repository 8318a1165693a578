// Test wrappers around the dev ATS launcher and the ATS 9 bridge, for plugin-level e2e tests.
//
//   const ats = await startTestAts({ addr: '127.0.0.41' })      temp runroot, port 18443
//   const bridge = ats.createBridge()
//   const env = useTestAts('127.0.0.41')                         both, for the whole test file
//   await pushRing(bridge, 5, [k1, k2])                          install + wait until ATS holds it
//   await waitForStats(bridge, (s) => s.rejected === 1)          poll the plugin stats
//   await waitForSharingStats(bridge, (s) => s.imported === 1, 'import')   its session-sharing stats
//   await sessionIdProbe(ats, session?)                          a TLS 1.2 session-id-only handshake
//   await sendRawFrame(ats, frame)                               a LIFECYCLE_MESSAGE without bridge checks
//
// Loopback addresses used by plugin-*.test.ts: 127.0.0.40–49 (agent tests use .6x).
// Waiting has a generous deadline that only turns a hang into a failure; tests never assert on
// durations (measurements go to test-results/ instead).
import { afterAll, beforeAll } from '@jest/globals';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ringFingerprint } from '../../src/core/fingerprint.ts';
import type { SessionSharingPluginStats } from '../../src/agent/ats-bridge.ts';
import type { Ats9Bridge, PluginStats } from '../../src/agent/ats9/ats9-bridge.ts';
import { MgmtClient } from '../../src/agent/ats9/mgmt-client.ts';
import { startAts, type AtsInstance, type StartAtsOptions } from '../../src/dev/ats.ts';
import { tlsProbe, type TlsProbeResult } from '../../dev/tls-probe.ts';
import { keyTraces } from '../fixtures/keys.ts';

export const WAIT_DEADLINE_MS = 20000;

// Keys come from the shared fixture; re-exported for the plugin and agent e2e tests.
export { keyName, newKey } from '../fixtures/keys.ts';

export interface TestAts extends AtsInstance {
  /** Removes the temp runroot after stopping. */
  dispose(): Promise<void>;
}

/** startAts in a fresh temp dir (short path: unix sockets live under it). */
export async function startTestAts(options: Omit<StartAtsOptions, 'dir'> & { dir?: string }): Promise<TestAts> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tko-ats-')));
  const ats = await startAts({ ...options, dir });
  return Object.assign(ats, {
    async dispose() {
      await ats.stop();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  });
}

export interface AtsWithBridge {
  /** The running ATS; set once beforeAll ran. */
  readonly ats: TestAts;
  /** A bridge to it over its management socket; set once beforeAll ran. */
  readonly bridge: Ats9Bridge;
}

/**
 * Gives the calling test file a private ATS on `addr` and a bridge to it: started before the
 * file's tests, closed and removed after them.
 */
export function useTestAts(addr: string): AtsWithBridge {
  let ats: TestAts | undefined;
  let bridge: Ats9Bridge | undefined;
  beforeAll(async () => {
    ats = await startTestAts({ addr });
    bridge = ats.createBridge();
  });
  afterAll(async () => {
    await bridge?.close();
    await ats?.dispose();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`test ATS on ${addr} is not started (use it inside tests or hooks)`);
    return value;
  };
  return {
    get ats() {
      return started(ats);
    },
    get bridge() {
      return started(bridge);
    },
  };
}

/** Polls `check` until it returns true; fails after the deadline. */
export async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_DEADLINE_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not reached${last ? `; last error: ${String(last)}` : ''}`);
}

/** Polls the plugin stats until `accept` holds; fails with the last value after the deadline. */
export async function waitForStats(
  bridge: Ats9Bridge,
  accept: (s: PluginStats) => boolean,
  what = 'plugin stats',
): Promise<PluginStats> {
  const deadline = Date.now() + WAIT_DEADLINE_MS;
  let last: PluginStats | Error | undefined;
  while (Date.now() < deadline) {
    try {
      last = await bridge.readStats();
      if (accept(last)) return last;
    } catch (err) {
      last = err as Error;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what} not reached; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

/** Polls the plugin's session-sharing stats until `accept` holds; the last value read. */
export async function waitForSharingStats(bridge: Ats9Bridge, accept: (s: SessionSharingPluginStats) => boolean, what: string): Promise<SessionSharingPluginStats> {
  let last: SessionSharingPluginStats | undefined;
  await waitFor(async () => accept((last = await bridge.sessionSharingStats())), what);
  return last!;
}

/** One TLS 1.2 handshake to `ats` that can resume only from its session cache (no tickets). */
export function sessionIdProbe(ats: AtsInstance, session?: Buffer): Promise<TlsProbeResult> {
  return tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.2', sessionIdOnly: true, session });
}

/** Waits until ATS holds exactly this ring at this generation. */
export function waitForRing(bridge: Ats9Bridge, generation: number, keys: Buffer[]): Promise<PluginStats> {
  const fp = ringFingerprint(Buffer.concat(keys));
  return waitForStats(
    bridge,
    (s) => s.generation === generation && s.ringFingerprint === fp && s.keyCount === keys.length,
    `generation ${generation} (${fp})`,
  );
}

/** Installs through the bridge and waits for the read-back. */
export async function pushRing(bridge: Ats9Bridge, generation: number, keys: Buffer[], revoke = false): Promise<PluginStats> {
  await bridge.install({ generation, keys, revoke });
  return waitForRing(bridge, generation, keys);
}

/** Sends any payload under a tag over the management socket (bypasses the bridge's checks). */
export async function sendRawMessage(ats: AtsInstance, tag: string, payload: Uint8Array): Promise<void> {
  const client = new MgmtClient({ socketPath: ats.mgmtSocket });
  try {
    await client.lifecycleMessage(tag, payload);
  } finally {
    await client.close();
  }
}

/** Every file under the instance's log dir, concatenated (for "no key bytes in logs" checks). */
export async function readAtsLogs(ats: AtsInstance): Promise<string> {
  const parts: string[] = [];
  for (const name of await readdir(ats.logDir)) {
    try {
      parts.push(await readFile(join(ats.logDir, name), 'latin1'));
    } catch {
      // a directory or a file rotated away
    }
  }
  return parts.join('\n');
}

/** The forms a key's secret parts could take in a log line (its key name may show: ATS logs it). */
export function keyRenderings(key: Buffer): string[] {
  return keyTraces([key], { name: false });
}

/** Appends a measurement to test-results/<file>.json (measure in reports, not in assertions). */
export async function recordMeasurement(file: string, name: string, value: unknown): Promise<void> {
  const dir = join(process.cwd(), 'test-results');
  await mkdir(dir, { recursive: true });
  const path = join(dir, file);
  let doc: Record<string, unknown> = {};
  try {
    doc = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    // first measurement
  }
  doc[name] = { value, measuredAt: new Date().toISOString() };
  await writeFile(path, `${JSON.stringify(doc, null, 2)}\n`);
}

/** p-th percentile (0..100) of samples. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}
