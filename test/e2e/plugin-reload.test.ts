// `traffic_ctl config reload` re-runs ATS's ticket-key loader 1–7 s later. Without a key file the
// pushed keys stay; with an absolute ticket_key.filename that changed after the push, the loader
// installs the file's keys and the plugin's re-apply puts the pushed ring back. The time the
// file's keys were live is measured (test-results/plugin-measurements.json), not asserted.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyName, newKey, pushRing, recordMeasurement, startTestAts, waitForStats, type TestAts } from '../helpers/ats.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';

/** Longer than ATS's loader delay after a reload (3–13 s measured; the plugin re-applies for 30 s). */
const OBSERVE_MS = 14000;

interface Observation {
  atMs: number;
  name: string;
}

/** Probes new TLS 1.3 tickets back to back for `ms`, labelling each ticket's key. */
async function observeTicketKeys(ats: TestAts, labels: Record<string, string>, ms: number): Promise<Observation[]> {
  const out: Observation[] = [];
  const start = performance.now();
  while (performance.now() - start < ms) {
    const r = await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' });
    out.push({ atMs: Math.round(performance.now() - start), name: labels[r.ticketKeyName ?? ''] ?? 'other' });
  }
  return out;
}

/** Total time in which tickets were made with `name` (first sighting to the next other one). */
function liveWindowMs(obs: Observation[], name: string): number {
  let total = 0;
  let since: number | undefined;
  for (const o of obs) {
    if (o.name === name && since === undefined) since = o.atMs;
    if (o.name !== name && since !== undefined) {
      total += o.atMs - since;
      since = undefined;
    }
  }
  if (since !== undefined) total += (obs.at(-1)?.atMs ?? since) - since;
  return total;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('config reload without a key file', () => {
  it('keeps the pushed keys throughout', async () => {
    const ats = await startTestAts({ addr: '127.0.0.46' });
    const bridge = ats.createBridge();
    cleanups.push(() => bridge.close(), () => ats.dispose());
    const k1 = newKey();
    await pushRing(bridge, 1, [k1]);
    const session = (await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).newSession!;
    const before = await bridge.readStats();

    await ats.reloadConfig();
    await waitForStats(bridge, (s) => s.reapplies > before.reapplies, 'plugin re-apply after reload');
    const seen = await observeTicketKeys(ats, { [keyName(k1)]: 'K1' }, OBSERVE_MS);

    expect(seen.filter((o) => o.name !== 'K1')).toEqual([]);
    expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3', session })).resumed).toBe(true);
    await recordMeasurement('plugin-measurements.json', 'reload.noKeyFile', { probes: seen.length, nonPushedTickets: 0 });
  });
});

describe('config reload with an absolute ticket_key.filename', () => {
  async function setup(addr: string) {
    const dir = await mkdtemp(join(tmpdir(), 'tko-keyfile-'));
    const keyFile = join(dir, 'ticket.key');
    const fileKey = newKey();
    await writeFile(keyFile, fileKey, { mode: 0o600 });
    const ats = await startTestAts({ addr, keyFile });
    const bridge = ats.createBridge();
    cleanups.push(
      () => bridge.close(),
      () => ats.dispose(),
      () => rm(dir, { recursive: true, force: true }),
    );
    // ATS starts on the file's key.
    expect((await tlsProbe({ host: addr, port: ats.tlsPort, tls: '1.3' })).ticketKeyName).toBe(keyName(fileKey));
    const k1 = newKey();
    await pushRing(bridge, 1, [k1]);
    return { ats, bridge, keyFile, fileKey, k1 };
  }

  it('touched after the push: the plugin’s re-apply restores the pushed ring', async () => {
    const { ats, bridge, keyFile, fileKey, k1 } = await setup('127.0.0.47');
    // ATS compares the file's mtime with the last install in whole seconds: let one pass.
    await new Promise((r) => setTimeout(r, 1100));
    await writeFile(keyFile, fileKey);
    const before = await bridge.readStats();

    await bridge.reloadConfig(); // RECONFIGURE over mgmtapi.sock, as `traffic_ctl config reload`
    await waitForStats(bridge, (s) => s.reapplies > before.reapplies, 'plugin re-apply after reload');
    const seen = await observeTicketKeys(ats, { [keyName(k1)]: 'K1', [keyName(fileKey)]: 'file' }, OBSERVE_MS);

    expect(seen.at(-1)?.name).toBe('K1');
    const k1Session = (await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3' })).newSession!;
    expect((await tlsProbe({ host: ats.addr, port: ats.tlsPort, tls: '1.3', session: k1Session })).resumed).toBe(true);
    await recordMeasurement('plugin-measurements.json', 'reload.keyFileTouchedBeforeReload.fileKeysLiveMs', {
      windowMs: liveWindowMs(seen, 'file'),
      probes: seen.length,
      fileTickets: seen.filter((o) => o.name === 'file').length,
    });
  });

  it('changed so the loader always loads it (future mtime): the re-apply still restores the pushed ring', async () => {
    const { ats, bridge, keyFile, fileKey, k1 } = await setup('127.0.0.48');
    const future = new Date(Date.now() + 3600_000);
    await utimes(keyFile, future, future); // newer than any install: the loader will load it
    const before = await bridge.readStats();

    await ats.reloadConfig();
    await waitForStats(bridge, (s) => s.reapplies > before.reapplies, 'plugin re-apply after reload');
    const seen = await observeTicketKeys(ats, { [keyName(k1)]: 'K1', [keyName(fileKey)]: 'file' }, OBSERVE_MS);

    expect(seen.at(-1)?.name).toBe('K1');
    expect(seen.filter((o) => o.name === 'other')).toEqual([]);
    await recordMeasurement('plugin-measurements.json', 'reload.keyFileLoadedByLoader.fileKeysLiveMs', {
      windowMs: liveWindowMs(seen, 'file'),
      probes: seen.length,
      fileTickets: seen.filter((o) => o.name === 'file').length,
    });
  });
});
