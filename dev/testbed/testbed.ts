// The test bed: a real etcd and a real kube-apiserver on loopback ports, with their own PKI,
// RBAC switched on, and the repo's CRDs installed. Everything lives in one directory whose
// testbed.json records what was started, so `down` (or a later `up`) can stop it.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { createCa, issueCert, loadCa } from '../../src/dev/certs.ts';
import { apiserverArgs, etcdArgs } from './control-plane-flags.ts';
import { applyCrds, readCrds } from './crds.ts';
import { httpsGet } from './https-probe.ts';
import type { TlsMaterial } from './https-probe.ts';
import { kubeConfigFrom, kubeconfigYaml } from './kubeconfig.ts';
import type { KubeconfigParts } from './kubeconfig.ts';
import { freePorts } from './ports.ts';
import { isRunning, killProcessNow, logTail, startDetached, stopProcess } from './processes.ts';
import type { ProcessRecord } from './processes.ts';
import { ensureTestbedBinaries } from './tools.ts';
import type { TestbedBinaries } from './tools.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STATE_FILE = 'testbed.json';
/** Everything `up` creates inside DIR; `down` removes exactly these. */
const OWNED_ENTRIES = [STATE_FILE, 'kubeconfig', 'pki', 'etcd-data', 'logs'];

/** A test bed may be left running for a long dev session (`npm run testbed up`). */
const CA_DAYS = 365;
const PKI_DAYS = 30;

export const ADMIN_USER = 'testbed-admin';
export const ADMIN_GROUPS = ['system:masters'];

export interface TestbedState {
  dir: string;
  server: string;
  etcdUrl: string;
  kubeconfig: string;
  processes: ProcessRecord[];
}

export interface Testbed extends TestbedState {
  /** A KubeConfig for the cluster admin (group system:masters). */
  adminKubeConfig(): KubeConfig;
}

export interface StartOptions {
  dir: string;
  /** Directory of CRD YAML to apply; defaults to the repo's crds/. */
  crdDir?: string;
  binaries?: TestbedBinaries;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

/** Every process of a test bed has paths under dir in its arguments; this identifies them. */
function marker(dir: string): string {
  return `${resolve(dir)}/`;
}

function pkiPath(dir: string, name: string): string {
  return join(dir, 'pki', name);
}

function readPki(dir: string, name: string): string {
  return readFileSync(pkiPath(dir, name), 'utf8');
}

export function readState(dir: string): TestbedState | undefined {
  const path = join(resolve(dir), STATE_FILE);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as TestbedState;
}

function writeState(state: TestbedState): void {
  writeFileSync(join(state.dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

function adminTls(dir: string): TlsMaterial {
  return { caPem: readPki(dir, 'ca.crt'), certPem: readPki(dir, 'admin.crt'), keyPem: readPki(dir, 'admin.key') };
}

export interface Identity {
  user: string;
  groups?: string[];
}

/** Kubeconfig parts for any identity: a client certificate signed by the test bed's client CA. */
export async function identityKubeconfigParts(dir: string, identity: Identity): Promise<KubeconfigParts> {
  const state = readState(dir);
  if (!state) throw new Error(`no test bed in ${resolve(dir)}`);
  const clientCa = await loadCa({ cert: readPki(state.dir, 'client-ca.crt'), key: readPki(state.dir, 'client-ca.key') });
  const { cert, key } = await issueCert(clientCa, {
    commonName: identity.user,
    organizations: identity.groups ?? [],
    usage: 'client',
    days: PKI_DAYS,
  });
  return { server: state.server, caPem: readPki(state.dir, 'ca.crt'), userName: identity.user, certPem: cert, keyPem: key };
}

/** A KubeConfig that authenticates as the given user and groups, for RBAC tests. */
export async function kubeConfigFor(dir: string, identity: Identity): Promise<KubeConfig> {
  return kubeConfigFrom(await identityKubeconfigParts(dir, identity));
}

/** The key pair the API server signs and verifies service-account tokens with (ECDSA P-256). */
function serviceAccountKeyPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicPem: publicKey, privatePem: privateKey };
}

/**
 * The test bed's PKI, made with the same toolkit as the agent's dev certificates
 * (src/dev/certs.ts, ECDSA P-256): a serving CA and the API server's certificate, a client CA
 * and the admin's certificate (CN = user, O = groups, as the API server's x509 authenticator
 * reads them), and the service-account key pair.
 */
async function writePki(dir: string): Promise<void> {
  mkdirSync(join(dir, 'pki'), { recursive: true, mode: 0o700 });
  const [servingCa, clientCa] = await Promise.all([
    createCa({ commonName: 'testbed-serving-ca', days: CA_DAYS }),
    createCa({ commonName: 'testbed-client-ca', days: CA_DAYS }),
  ]);
  const serviceAccount = serviceAccountKeyPair();
  const [serving, admin] = await Promise.all([
    issueCert(servingCa, {
      commonName: 'kube-apiserver',
      usage: 'server',
      ipAddresses: ['127.0.0.1', '10.96.0.1'],
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      days: PKI_DAYS,
    }),
    issueCert(clientCa, { commonName: ADMIN_USER, organizations: ADMIN_GROUPS, usage: 'client', days: PKI_DAYS }),
  ]);
  const files: Record<string, string> = {
    'ca.crt': servingCa.cert,
    'ca.key': servingCa.key,
    'client-ca.crt': clientCa.cert,
    'client-ca.key': clientCa.key,
    'apiserver.crt': serving.cert,
    'apiserver.key': serving.key,
    'admin.crt': admin.cert,
    'admin.key': admin.key,
    'sa.pub': serviceAccount.publicPem,
    'sa.key': serviceAccount.privatePem,
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(pkiPath(dir, name), content, { mode: 0o600 });
}

async function waitUntil(what: string, record: ProcessRecord, processMarker: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (!isRunning(record.pid, processMarker)) {
      throw new Error(`${record.name} exited before ${what}; last lines of ${record.log}:\n${logTail(record.log)}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} timed out after ${timeoutMs} ms (${lastError}); last lines of ${record.log}:\n${logTail(record.log)}`);
    }
    await sleep(100);
  }
}

async function startApiserver(state: TestbedState, bin: string, args: string[], timeoutMs: number): Promise<ProcessRecord> {
  const record = startDetached('kube-apiserver', bin, args, join(state.dir, 'logs', 'kube-apiserver.log'));
  state.processes = [...state.processes.filter((p) => p.name !== record.name), record];
  writeState(state);
  const tls = adminTls(state.dir);
  await waitUntil('kube-apiserver /readyz', record, marker(state.dir), timeoutMs, async () => {
    const res = await httpsGet(`${state.server}/readyz`, tls);
    return res.status === 200;
  });
  return record;
}

/**
 * Starts a fresh test bed in dir. A test bed already recorded there is stopped first, so a
 * second `up` after a crash never leaves the old processes running.
 */
export async function startTestbed(options: StartOptions): Promise<Testbed> {
  const dir = resolve(options.dir);
  const log = options.log ?? (() => {});
  const timeoutMs = options.readyTimeoutMs ?? 180_000;
  // Whatever an earlier `up` left here goes first; DIR itself stays (a reaper may watch it).
  await stopRecordedProcesses(dir);
  removeOwnedEntries(dir, false);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const bins = options.binaries ?? (await ensureTestbedBinaries({ log }));

  const [, ports] = await Promise.all([writePki(dir), freePorts(3)]);
  const [etcdClientPort, etcdPeerPort, apiserverPort] = ports as [number, number, number];
  const state: TestbedState = {
    dir,
    server: `https://127.0.0.1:${apiserverPort}`,
    etcdUrl: `http://127.0.0.1:${etcdClientPort}`,
    kubeconfig: join(dir, 'kubeconfig'),
    processes: [],
  };

  const etcd = startDetached('etcd', bins.etcd, etcdArgs(dir, etcdClientPort, etcdPeerPort), join(dir, 'logs', 'etcd.log'));
  state.processes.push(etcd);
  writeState(state);
  await waitUntil('etcd /health', etcd, marker(dir), timeoutMs, async () => {
    const res = await fetch(`${state.etcdUrl}/health`);
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  });
  log(`testbed: etcd ready at ${state.etcdUrl}`);

  await startApiserver(state, bins.kubeApiserver, apiserverArgs(dir, apiserverPort, state.etcdUrl), timeoutMs);
  log(`testbed: kube-apiserver ready at ${state.server}`);

  const tls = adminTls(dir);
  writeFileSync(state.kubeconfig, kubeconfigYaml({ server: state.server, caPem: tls.caPem, userName: ADMIN_USER, certPem: tls.certPem, keyPem: tls.keyPem }), {
    mode: 0o600,
  });
  const testbed = withClients(state);
  const crds = readCrds(options.crdDir ?? join(REPO_ROOT, 'crds'));
  await applyCrds(testbed.adminKubeConfig(), crds);
  log(`testbed: ${crds.length} CRD(s) established: ${crds.map((c) => c.metadata?.name).join(', ') || '(none in crds/)'}`);
  return testbed;
}

function withClients(state: TestbedState): Testbed {
  return {
    ...state,
    adminKubeConfig: () => {
      const tls = adminTls(state.dir);
      return kubeConfigFrom({ server: state.server, caPem: tls.caPem, userName: ADMIN_USER, certPem: tls.certPem, keyPem: tls.keyPem });
    },
  };
}

/** The running test bed recorded in dir. */
export function openTestbed(dir: string): Testbed {
  const state = readState(dir);
  if (!state) throw new Error(`no test bed in ${resolve(dir)}`);
  return withClients(state);
}

/**
 * Stops kube-apiserver and starts it again on the same port, etcd and certificates: what a
 * rolling restart of the control plane looks like to a client (watches drop, and the new
 * watch cache starts at the current revision).
 */
export async function restartApiserver(dir: string, timeoutMs = 180_000): Promise<void> {
  const state = readState(dir);
  const old = state?.processes.find((p) => p.name === 'kube-apiserver');
  if (!state || !old) throw new Error(`no kube-apiserver recorded in ${resolve(dir)}`);
  await stopProcess(old, marker(state.dir));
  await startApiserver(state, old.bin, old.args, timeoutMs);
}

/**
 * Stops etcd and starts it again on the same ports and data: the API server stays up and
 * answers errors (or hangs) until etcd is back. Resolves once etcd reports healthy.
 */
export async function restartEtcd(dir: string, timeoutMs = 60_000): Promise<void> {
  const state = readState(dir);
  const old = state?.processes.find((p) => p.name === 'etcd');
  if (!state || !old) throw new Error(`no etcd recorded in ${resolve(dir)}`);
  await stopProcess(old, marker(state.dir));
  const record = startDetached('etcd', old.bin, old.args, old.log);
  // etcd stays first: the API server is stopped before it.
  state.processes = [record, ...state.processes.filter((p) => p.name !== 'etcd')];
  writeState(state);
  await waitUntil('etcd /health', record, marker(state.dir), timeoutMs, async () => {
    const res = await fetch(`${state.etcdUrl}/health`);
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  });
}

function removeOwnedEntries(dir: string, removeEmptyDir: boolean): void {
  for (const entry of OWNED_ENTRIES) rmSync(join(dir, entry), { recursive: true, force: true });
  if (!removeEmptyDir) return;
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // dir is already gone, or holds files that are not ours.
  }
}

async function stopRecordedProcesses(dir: string): Promise<void> {
  const state = readState(dir);
  // API server first, so it never sees etcd vanish.
  for (const record of [...(state?.processes ?? [])].reverse()) await stopProcess(record, marker(dir));
}

/** Stops every recorded process and removes the data (and DIR itself when nothing else is left in it). */
export async function stopTestbed(dir: string): Promise<void> {
  const abs = resolve(dir);
  await stopRecordedProcesses(abs);
  removeOwnedEntries(abs, true);
}

/** Synchronous variant for exit and signal handlers: SIGKILL everything, remove the data. */
export function killTestbedNow(dir: string): void {
  const abs = resolve(dir);
  let state: TestbedState | undefined;
  try {
    state = readState(abs);
  } catch {
    state = undefined;
  }
  for (const record of state?.processes ?? []) killProcessNow(record, marker(abs));
  removeOwnedEntries(abs, true);
}
