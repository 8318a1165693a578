// The window after a configuration reload in which ATS issues tickets with keys other than the
// pushed ring, for each row of the ATS-NOTES reload table (plus the file-fallback setup the
// operator marks consistent). Each row proves, from ATS's own debug log, what ATS 9.2's
// ticket-key loader (SSLTicketParams::LoadTicket, run by every `config reload` a few seconds
// after the command) did with the key file on that reload: loaded it, found it unchanged, failed
// to read it, or had none. A TLS client reads the key name of every new ticket meanwhile (what
// ATS really serves). Numbers go to test-results/agent-config-reload.json and docs/agent.md;
// assertions are about outcomes: the loader did what the row names, rows whose reload cannot
// load a foreign ring never show a foreign ticket, and after the reload settles ATS issues
// tickets with the pushed key and a session from before the reload resumes.
import { rm, mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { PutRingRequest } from '../../src/agent/protocol.ts';
import { readConfigDir } from '../../src/agent/config-dir-snapshot.ts';
import { keyFingerprint } from '../../src/core/fingerprint.ts';
import { startAtsWithAgent, type AtsWithAgent } from '../../dev/agent-process.ts';
import { recordMeasurement, waitFor } from '../helpers/ats.ts';
import { AtsLogTail, LOADER_DEBUG_RECORDS, LOADER_SCHEDULED, loaderOutcome, logTimeMs, PLUGIN_REAPPLIED, type LoaderOutcome } from '../helpers/ats-log-tail.ts';
import { tlsProbe } from '../../dev/tls-probe.ts';
import { keyName, newKey } from '../fixtures/keys.ts';

/** After ATS logged the ticket-key loader run, keep watching this long (6 plugin re-apply ticks of 250 ms). */
const AFTER_LOADER_MS = 1500;
/** Between probes: a ~15 ms resolution against windows of up to 250 ms, and less load on ATS (every handshake logs under ssl_load). */
const PROBE_PAUSE_MS = 10;
/** The loader runs 2–8 s after the reload (records sync + 3 s config update tick); a hang fails here. */
const LOADER_DEADLINE_MS = 30000;

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function ring(generation: number, keys: Buffer[]): PutRingRequest {
  return { generation, keys: keys.map((k, i) => ({ fingerprint: keyFingerprint(k), material: k.toString('base64'), state: i === 0 ? 'active' : 'staged' })) };
}

interface Observation {
  /** New tickets seen, and those with a key name that is neither the pushed nor the file's key. */
  tickets: number;
  fileTickets: number;
  otherTickets: number;
  /** Milliseconds in which new tickets carried a key name other than the pushed one. */
  foreignMs: number;
  /** Wall clock of the first such ticket (to line up with ATS's log). */
  firstForeignAt?: string;
  tail: AtsLogTail;
}

/** A new ticket every ~15 ms from the reload until AFTER_LOADER_MS after ATS logged the loader run. */
async function observeReload(env: AtsWithAgent, tail: AtsLogTail, pushedName: string, fileName: string | undefined): Promise<Observation> {
  const start = performance.now();
  const o: Observation = { tickets: 0, fileTickets: 0, otherTickets: 0, foreignMs: 0, tail };
  let since: number | undefined;
  let loaderSeenAt: number | undefined;
  let lastPoll = 0;
  for (;;) {
    const name = (await tlsProbe({ host: env.ats.addr, port: env.ats.tlsPort, tls: '1.3' })).ticketKeyName;
    const t = performance.now() - start;
    o.tickets += 1;
    if (name !== pushedName) {
      since ??= t;
      o.firstForeignAt ??= new Date().toISOString();
      if (fileName !== undefined && name === fileName) o.fileTickets += 1;
      else o.otherTickets += 1;
    } else if (since !== undefined) {
      o.foreignMs += t - since;
      since = undefined;
    }
    if (t - lastPoll >= 200) {
      lastPoll = t;
      await tail.poll();
      if (loaderSeenAt === undefined && tail.find(LOADER_SCHEDULED)) loaderSeenAt = t;
    }
    if (loaderSeenAt !== undefined && t - loaderSeenAt >= AFTER_LOADER_MS) break;
    if (t > LOADER_DEADLINE_MS) throw new Error(`ATS's ticket-key loader did not run within ${LOADER_DEADLINE_MS} ms of the reload`);
    await new Promise((resolve) => setTimeout(resolve, PROBE_PAUSE_MS));
  }
  if (since !== undefined) o.foreignMs += performance.now() - start - since;
  o.foreignMs = Math.round(o.foreignMs);
  await tail.poll();
  return o;
}

interface Row {
  name: string;
  addr: string;
  /** What ATS's loader must do on this row's reload: the proof that the row exercises what it names. */
  loader: LoaderOutcome;
  /** The key file (when loaded) holds a ring other than the pushed one: only then can a foreign ticket appear. */
  foreignFile: boolean;
  /** Sets up the key file ATS starts with; returns ATS options. */
  prepare(dir: string, fileKey: Buffer): Promise<{ keyFile?: string; extraRecords?: string[] }>;
  /** After the push, before the reload (the pushed key is the ring's only key). */
  afterPush?(dir: string, ctx: { fileKey: Buffer; pushedKey: Buffer }): Promise<void>;
}

const HOUR_MS = 3600_000;
const absoluteFile = async (dir: string, fileKey: Buffer) => {
  const keyFile = join(dir, 'abs.key');
  await writeFile(keyFile, fileKey); // one 48-byte ATS key: name | hmac | aes
  return { keyFile };
};
/** An mtime after every install: ATS's check (st_mtime <= load time of the current keys) says "changed" on every reload. */
const newerThanEveryInstall = (file: string) => utimes(file, new Date(Date.now() + HOUR_MS), new Date(Date.now() + HOUR_MS));

const rows: Row[] = [
  { name: 'no key file', addr: '127.0.100.2', loader: 'no file', foreignFile: false, prepare: async () => ({}) },
  {
    name: 'absolute path, file older than the push',
    addr: '127.0.100.3',
    loader: 'unchanged',
    foreignFile: true,
    async prepare(dir, fileKey) {
      const r = await absoluteFile(dir, fileKey);
      await utimes(r.keyFile, new Date(Date.now() - HOUR_MS), new Date(Date.now() - HOUR_MS));
      return r;
    },
  },
  {
    // Touched after the push, before the reload. The plugin's re-apply on TS_EVENT_MGMT_UPDATE (10 ms
    // after the reload, then every 250 ms for 30 s) resets the load time ATS compares the mtime with,
    // so by the time the loader runs (seconds later) the file is no longer newer: not loaded.
    name: 'absolute path, file touched after the push',
    addr: '127.0.100.4',
    loader: 'unchanged',
    foreignFile: true,
    prepare: absoluteFile,
    async afterPush(dir, { fileKey }) {
      await new Promise((resolve) => setTimeout(resolve, 1100)); // mtime has one-second resolution
      await writeFile(join(dir, 'abs.key'), fileKey);
    },
  },
  {
    // Newer than every install when the loader runs: what a write landing between the plugin's last
    // re-apply tick and the loader does (kubelet updating a Secret volume mid-reload), or a copied
    // file with a preserved future mtime. Made deterministic with an mtime an hour ahead.
    name: 'absolute path, file newer than every install',
    addr: '127.0.100.5',
    loader: 'loaded',
    foreignFile: true,
    prepare: absoluteFile,
    afterPush: (dir) => newerThanEveryInstall(join(dir, 'abs.key')),
  },
  {
    // spec.fileFallback: the file holds the pushed ring (the operator writes the Secret before each
    // push). Loaded like the row above, but the keys are the pushed ones.
    name: 'absolute path holding the pushed ring (spec.fileFallback)',
    addr: '127.0.100.6',
    loader: 'loaded',
    foreignFile: false,
    prepare: absoluteFile,
    async afterPush(dir, { pushedKey }) {
      await writeFile(join(dir, 'abs.key'), pushedKey);
      await newerThanEveryInstall(join(dir, 'abs.key'));
    },
  },
  {
    // ATS resolves a relative ticket_key.filename against proxy.config.ssl.server.cert.path
    // (<runroot>/certs here; sysconfdir only when cert.path is empty), but its mtime check stats the
    // raw relative name from traffic_server's working directory (the prefix, <runroot>): another
    // path, which does not exist, so every reload loads the file. <runroot>/certs/../../.. is <tmp>.
    name: 'relative path',
    addr: '127.0.100.7',
    loader: 'loaded',
    foreignFile: true,
    async prepare(dir, fileKey) {
      await writeFile(join(dir, 'ticket.key'), fileKey);
      return { extraRecords: [`CONFIG proxy.config.ssl.server.ticket_key.filename STRING ../../../${basename(dir)}/ticket.key`] };
    },
  },
  {
    // Present at start (a missing file is fatal at startup), gone before the reload.
    name: 'configured file missing',
    addr: '127.0.100.8',
    loader: 'failed',
    foreignFile: false,
    prepare: absoluteFile,
    afterPush: (dir) => rm(join(dir, 'abs.key')),
  },
];

describe.each(rows)('config reload window: $name', (row) => {
  it(`ATS's key loader ${row.loader === 'no file' ? 'has no file' : `finds the file ${row.loader}`}; after the reload ATS issues tickets with the pushed key`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tko-reload-window-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const fileKey = newKey();
    const prepared = await row.prepare(dir, fileKey);
    const env = await startAtsWithAgent({
      addr: row.addr,
      agent: { configDebounceMs: 200 },
      ats: { ...prepared, extraRecords: [...LOADER_DEBUG_RECORDS, ...(prepared.extraRecords ?? [])], kubeletConfigDir: true },
    });
    cleanups.push(() => env.stop());
    const pushedKey = newKey();
    const pushedName = keyName(pushedKey);
    const fileName = row.loader === 'no file' ? undefined : keyName(fileKey);
    await env.client.putRing(ring(1, [pushedKey]));
    await waitFor(async () => (await tlsProbe({ host: row.addr, port: env.ats.tlsPort, tls: '1.3' })).ticketKeyName === pushedName, 'pushed key in use');
    await row.afterPush?.(dir, { fileKey, pushedKey });
    const session = (await tlsProbe({ host: row.addr, port: env.ats.tlsPort, tls: '1.3' })).newSession!;
    const bridge = env.ats.createBridge();
    const reappliesBefore = (await bridge.readStats()).reapplies;

    // A remap-only edit of the mounted ConfigMap: the agent reloads ATS once.
    const tail = await AtsLogTail.at(env.ats.logDir);
    await env.ats.updateConfig({ 'remap.config': `map /edited http://${row.addr}:${env.ats.originPort}/\n` });
    const reading = await readConfigDir(env.ats.configDir);
    const hash = reading.ok ? reading.snapshot.hash : '';
    const o = await observeReload(env, tail, pushedName, fileName);
    await waitFor(async () => (await env.client.getRing()).lastReload?.configHash === hash, 'reload reported');
    const r = await env.client.getRing();
    const reapplies = (await bridge.readStats()).reapplies - reappliesBefore;
    await bridge.close();

    const outcome = loaderOutcome(o.tail);
    const reloadAt = logTimeMs(o.tail.find(PLUGIN_REAPPLIED));
    const loaderAt = logTimeMs(o.tail.find(LOADER_SCHEDULED));
    const loaderDelayMs = reloadAt !== undefined && loaderAt !== undefined ? loaderAt - reloadAt : undefined;
    const measured = { loader: outcome, loaderDelayMs, ticketsWithOtherKeysMs: o.foreignMs, tickets: o.tickets, fileTickets: o.fileTickets, firstForeignAt: o.firstForeignAt, pluginReapplies: reapplies, agentReport: r.lastReload };
    await recordMeasurement('agent-config-reload.json', row.name, measured);
    process.stdout.write(`reload window [${row.name}]: ${JSON.stringify(measured)}\n`);
    process.stdout.write(`${o.tail.lines.map((l) => `  ATS: ${l}`).join('\n')}\n`); // the loader's own account of this reload

    // The reload exercised what the row names: ATS's loader ran and did this with the file.
    expect(outcome).toBe(row.loader);
    expect(o.otherTickets).toBe(0); // only the pushed key or the file's key ever encrypted a ticket
    if (row.loader !== 'loaded' || !row.foreignFile) expect(o.fileTickets).toBe(0);
    expect(r.lastReload?.trigger).toBe('agent');
    expect(r.inSync).toBe(true);
    // Settled: new tickets carry the pushed key, and the session from before the reload resumes.
    await waitFor(async () => (await tlsProbe({ host: row.addr, port: env.ats.tlsPort, tls: '1.3' })).ticketKeyName === pushedName, 'pushed key in use');
    expect((await tlsProbe({ host: row.addr, port: env.ats.tlsPort, tls: '1.3', session })).resumed).toBe(true);
  }, 120_000);
});
