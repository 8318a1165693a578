#!/usr/bin/env node
// tko: one entry point, one subcommand module per concern.
import { Command } from 'commander';
import { registerAgent } from './agent.ts';
import { registerDev } from './dev.ts';
import { registerKeys } from './keys.ts';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major === undefined || major < 22 || (major === 22 && (minor ?? 0) < 19)) {
  console.error(`tko needs Node.js >= 22.19 (running ${process.version})`);
  process.exit(1);
}

const program = new Command('tko')
  .description('ticket-key-operator: TLS session-ticket keys for Apache Traffic Server on Kubernetes')
  .showHelpAfterError();

registerKeys(program);
registerAgent(program);
registerDev(program);

await program.parseAsync(process.argv);
