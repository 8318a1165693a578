// Crash-safety test hook: TKO_FAULT=<point> makes the operator kill itself with SIGKILL at that
// exact point of a rotation, so tests can prove a fresh process resumes correctly. Inert unless
// the variable is set; the points are named in execute.ts.
//   exit-after-persist   right after the Secret holding a newly staged key was written
//   exit-mid-fanout      after the first pod acknowledged a staged ring, before the others
//   exit-before-promote  every pod acknowledged the staged key; before the promotion is persisted
export const FAULT_POINTS = ['exit-after-persist', 'exit-mid-fanout', 'exit-before-promote'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export type FaultHook = (point: FaultPoint) => void;

export const FAULT_ENV = 'TKO_FAULT';

/** The hook configured by the environment, or a no-op. */
export function faultHookFromEnv(env: NodeJS.ProcessEnv = process.env): FaultHook {
  const wanted = env[FAULT_ENV];
  if (!wanted) return () => {};
  if (!(FAULT_POINTS as readonly string[]).includes(wanted)) throw new Error(`${FAULT_ENV}=${wanted}: expected one of ${FAULT_POINTS.join(', ')}`);
  return (point) => {
    if (point !== wanted) return;
    process.stderr.write(`${JSON.stringify({ level: 'warn', message: 'fault injected: killing the process', fault: point })}\n`);
    // A real SIGKILL: no exit handlers, no lease release, nothing flushed.
    process.kill(process.pid, 'SIGKILL');
  };
}
