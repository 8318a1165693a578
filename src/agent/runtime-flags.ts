// How the agent's Node.js process is tuned: a sidecar in every ATS pod that is idle almost all
// the time (a push per rotation, a stats poll every few hundred ms), with a memory goal of
// 80 MB RSS (issue 4). This file is the one place these settings live:
//   - AGENT_NODE_OPTIONS: set by the container (NODE_OPTIONS, see docs/agent.md) and by
//     bench/agent.ts; heap sizes can only be chosen when the process starts.
//   - AGENT_V8_FLAGS: applied by `tko agent` itself at start (NODE_OPTIONS refuses V8 flags
//     other than a few heap and debugging ones), overridable with --v8-flags or
//     TKO_AGENT_V8_FLAGS ("" for V8's defaults).
//
// Measured with `npm run bench:agent` (real ATS, real agent as compiled JS, 200 pushes; 2 shared
// cores, so push latencies vary by +-15 ms from run to run; bench/results/agent.json):
//   Node defaults                              88.9 MB RSS
//   AGENT_NODE_OPTIONS                         81.1 MB (52.4 file-backed), p99 26-32 ms
//   AGENT_NODE_OPTIONS + --no-turbofan         73.7-74.1 MB (46.6 file-backed), p99 18-35 ms
// Without TurboFan, V8's top-tier compiler, neither its code pages in the node binary (~6 MB of
// RssFile) nor its zones and code (~1.5 MB of RssAnon) are paid for. Nothing then compiles above
// Sparkplug's baseline code (Node 22's V8 ships Maglev off; with --maglev a sharing agent's perf
// map showed no Maglev code, and a hex loop ran 10 % faster where TurboFan made it 7x faster),
// which is fine for the push path (a JSON body, a socket message, a stats read: ATS, not
// JavaScript, dominates push latency). Session sharing is the one busy path: bench:sessions
// measured the agents at 0.53 ms of CPU per shared handshake with these flags and 0.39 ms with
// V8's defaults (--v8-flags ""), for ~10 MB more RSS per agent (again on 2026-12-07, shorter runs:
// 0.68-0.72 against 0.49-0.67 ms, and 84-87 MB RSS at maxEntries, above the 80 MB goal).
// Also measured: --no-opt saves the same and no more;
// --no-maglev and --max-lazy on top save nothing; --v8-pool-size=1 saves nothing. --jitless
// would save about as much but disables WebAssembly, and in Node 22 importing node:http from an
// ES module then loads Node's bundled undici, which compiles WebAssembly: the agent dies at
// start. --lite-mode implies --jitless.
import { setFlagsFromString } from 'node:v8';

/** NODE_OPTIONS for the agent container: its heap is ~15 MB; the old-space limit is 3x that. */
export const AGENT_NODE_OPTIONS = '--max-semi-space-size=1 --max-old-space-size=48';

/** V8 flags `tko agent` sets on itself before loading the agent (space-separated). */
export const AGENT_V8_FLAGS = '--no-turbofan';

/** Splits space-separated V8 flags; throws on anything that is not a plain --flag[=value]. */
export function parseV8Flags(flags: string): string[] {
  const list = flags.split(/\s+/).filter(Boolean);
  for (const flag of list) {
    if (!/^--[a-z0-9][a-z0-9_-]*(=[A-Za-z0-9_.-]+)?$/.test(flag)) throw new Error(`not a V8 flag: ${JSON.stringify(flag)}`);
  }
  return list;
}

/**
 * Applies V8 flags to the running process. Call it before the agent's modules load: flags that
 * steer the compilers take effect for every function tiered up afterwards.
 */
export function applyV8Flags(flags: readonly string[]): void {
  for (const flag of flags) setFlagsFromString(flag);
}
