// Agent benchmark against a real ATS 9 and a real `tko agent` process.
//
//   npm run bench:agent -- [--json] [--pushes N] [--addr 127.0.0.N] [--node-options='...']
//                          [--v8-flags='...'] [--node-args='...'] [--ts]
//
// The agent runs as the image runs it: the bundle (scripts/bundle.ts, into a temp dir with no
// node_modules), under NODE_OPTIONS from --node-options, by default AGENT_NODE_OPTIONS, the
// settings recommended for the agent's sidecar container, and with the V8 flags the agent sets
// on itself, by default AGENT_V8_FLAGS (both in src/agent/runtime-flags.ts, which records what
// each saves; --node-options= --v8-flags= runs Node's defaults). --node-args puts flags on the
// node command line (for experiments with flags NODE_OPTIONS refuses). --ts runs
// src/cli/main.ts through Node's type stripping instead (~40 MB more RSS).
//
// push-to-effective: from the moment the operator sends PUT /v1/ring until a fresh TLS 1.3
// handshake gets a ticket under the new key (its key_name), probed back to back while the PUT
// is in flight. An upper bound: a probe's own duration is included.
// put: the same PUT until the agent answers 200 (it answers only after reading the plugin's
// stats back, so this includes ATS's stats sync).
// rss: the agent process's VmRSS / VmHWM from /proc after all pushes; RssFile is mostly the
// node binary's own pages (shared, ~37 MB for an empty Node), RssAnon the agent's heap.
// Goals (issue 4): effective p99 <= 50 ms, agent RSS <= 80 MB.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { PutRingRequest } from '../src/agent/protocol.ts';
import { AGENT_NODE_OPTIONS, AGENT_V8_FLAGS } from '../src/agent/runtime-flags.ts';
import { keyFingerprint } from '../src/core/fingerprint.ts';
import { startAtsWithAgent } from '../dev/agent-process.ts';
import { buildBundledTko } from './build.ts';
import { parseSession } from '../dev/tls-probe.ts';

const GOAL_P99_MS = 50;
const GOAL_RSS_MB = 80;
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULT_FILE = join(REPO, 'bench', 'results', 'agent.json');

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    pushes: { type: 'string', default: '200' },
    addr: { type: 'string', default: '127.0.0.63' },
    'node-options': { type: 'string', default: AGENT_NODE_OPTIONS },
    'v8-flags': { type: 'string', default: AGENT_V8_FLAGS },
    'node-args': { type: 'string', default: '' },
    ts: { type: 'boolean', default: false },
  },
});
const pushes = Number(args.pushes);
if (!Number.isInteger(pushes) || pushes < 1) throw new Error('--pushes must be a positive integer');

/** One full TLS 1.3 handshake; resolves with the key_name (hex) of the first ticket. */
function ticketKeyName(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no ticket within 2 s'));
    }, 2000);
    socket.once('session', (session: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      const ticket = parseSession(session).ticket;
      if (!ticket || ticket.length < 16) reject(new Error('session without a ticket'));
      else resolve(ticket.subarray(0, 16).toString('hex'));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function ring(generation: number, keys: Buffer[]): PutRingRequest {
  return {
    generation,
    keys: keys.map((k, i) => ({ fingerprint: keyFingerprint(k), material: k.toString('base64'), state: i === 0 ? 'active' : 'retired' })),
  };
}

function summary(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  const r = (v: number) => Math.round(v * 100) / 100;
  return { n: s.length, p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), max: r(s.at(-1)!), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

async function procStatusMb(pid: number): Promise<{ rssMb: number; hwmMb: number; rssAnonMb: number; rssFileMb: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const mb = (field: string) => Math.round((Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024) * 10) / 10;
  return { rssMb: mb('VmRSS'), hwmMb: mb('VmHWM'), rssAnonMb: mb('RssAnon'), rssFileMb: mb('RssFile') };
}

const log = (line: string) => {
  if (!args.json) process.stderr.write(`${line}\n`);
};

const build = args.ts ? undefined : await buildBundledTko(log);
const nodeOptions = args['node-options'];
const v8Flags = args['v8-flags'];
const nodeArgs = args['node-args'].split(/\s+/).filter(Boolean);
const env = await startAtsWithAgent({
  addr: args.addr,
  agent: { logLevel: 'warn', entry: build?.entry, env: { ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}), TKO_AGENT_V8_FLAGS: v8Flags }, nodeArgs: nodeArgs.length > 0 ? nodeArgs : undefined },
});
try {
  const { addr, tlsPort } = env.ats;
  const effective: number[] = [];
  const put: number[] = [];
  const probesPerPush: number[] = [];
  let previous = randomBytes(48);
  await env.client.putRing(ring(1, [previous]));
  log(`ATS ${addr}:${tlsPort}, agent pid ${env.agent.pid}: ${pushes} pushes`);
  for (let i = 0; i < pushes; i++) {
    const next = randomBytes(48);
    const name = next.subarray(0, 16).toString('hex');
    const t0 = performance.now();
    let putDone = false;
    const response = env.client.putRing(ring(i + 2, [next, previous])).then((r) => {
      put.push(performance.now() - t0);
      putDone = true;
      return r;
    });
    let probes = 0;
    for (;;) {
      probes++;
      const seen = await ticketKeyName(addr, tlsPort);
      if (seen === name) {
        effective.push(performance.now() - t0);
        break;
      }
      if (putDone) throw new Error(`push ${i + 2}: the agent answered 200 but a fresh handshake still used another key`);
    }
    probesPerPush.push(probes);
    await response;
    previous.fill(0);
    previous = next;
    if ((i + 1) % 50 === 0) log(`  ${i + 1}/${pushes}`);
  }
  previous.fill(0);
  const mem = await procStatusMb(env.agent.pid);
  const eff = summary(effective);
  const result = {
    benchmark: 'agent',
    date: new Date().toISOString(),
    node: process.version,
    ats: execFileSync('traffic_server', ['--version'], { encoding: 'utf8' }).split('\n').find((l) => /Traffic Server/.test(l))?.trim() ?? 'unknown',
    cpus: (await readFile('/proc/cpuinfo', 'utf8')).split('\n').filter((l) => l.startsWith('processor')).length,
    agentRuntime: args.ts ? 'src/cli/main.ts (type stripping)' : 'the bundle (scripts/bundle.ts, as in the image)',
    nodeOptions,
    v8Flags,
    ...(nodeArgs.length > 0 ? { nodeArgs: nodeArgs.join(' ') } : {}),
    pushes,
    pushToEffectiveMs: eff,
    putResponseMs: summary(put),
    probesPerPush: summary(probesPerPush),
    agent: mem,
    goals: { pushToEffectiveP99Ms: GOAL_P99_MS, agentRssMb: GOAL_RSS_MB },
    pass: { pushToEffectiveP99: eff.p99 <= GOAL_P99_MS, agentRss: mem.rssMb <= GOAL_RSS_MB },
  };
  await mkdir(dirname(RESULT_FILE), { recursive: true });
  await writeFile(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    log(`push-to-effective ms: p50 ${eff.p50}  p99 ${eff.p99}  max ${eff.max}  (goal p99 <= ${GOAL_P99_MS})`);
    log(`PUT answered ms:      p50 ${result.putResponseMs.p50}  p99 ${result.putResponseMs.p99}`);
    log(`agent RSS ${mem.rssMb} MB (anon ${mem.rssAnonMb}, file ${mem.rssFileMb}), peak ${mem.hwmMb} MB (goal <= ${GOAL_RSS_MB})`);
    log(`written to ${RESULT_FILE}`);
  }
} finally {
  await env.stop();
  if (build) await rm(build.dir, { recursive: true, force: true });
}
