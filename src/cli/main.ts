#!/usr/bin/env node
// tko: one entry point, one subcommand module per concern. Modules load lazily so a short
// command (`tko keys inspect`) does not pay for the agent's or the operator's imports.
import { Command } from 'commander';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major === undefined || major < 22 || (major === 22 && (minor ?? 0) < 19)) {
  console.error(`tko needs Node.js >= 22.19 (running ${process.version})`);
  process.exit(1);
}

type Register = (program: Command) => void;

async function ctl(): Promise<Register> {
  return (await import('./ctl.ts')).registerCtl;
}

/** Top-level command name → the module that registers it. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  keys: async () => (await import('./keys.ts')).registerKeys,
  agent: async () => (await import('./agent.ts')).registerAgent,
  dev: async () => (await import('./dev.ts')).registerDev,
  operator: async () => (await import('./operator.ts')).registerOperator,
  cache: async () => (await import('./cache.ts')).registerCache,
  schedule: async () => (await import('./schedule.ts')).registerSchedule,
  crd: async () => (await import('./crd.ts')).registerCrd,
  status: ctl,
  rotate: ctl,
  revoke: ctl,
};

const program = new Command('tko')
  .description('ticket-key-operator: TLS session-ticket keys for Apache Traffic Server on Kubernetes')
  .showHelpAfterError();

const requested = process.argv[2];
const load = requested !== undefined ? COMMANDS[requested] : undefined;
const loaders = load !== undefined ? [load] : [...new Set(Object.values(COMMANDS))]; // help, or an unknown command
for (const loader of loaders) (await loader())(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A user's mistake (bad flag value, missing file, API refusal) reads as one line; the stack
  // is for developers (TKO_DEBUG=1).
  console.error(`tko: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.TKO_DEBUG && err instanceof Error && err.stack) console.error(err.stack);
  process.exitCode = 1;
}
