// `tko dev …`: helpers for local stacks and tests (never for production clusters).
import type { Command } from 'commander';
import { registerDevAts } from './dev-ats.ts';
import { registerDevCerts } from './dev-certs.ts';

export function registerDev(program: Command): void {
  const dev = program.command('dev').description('local development helpers: certificates, ATS instances, a local stack');
  registerDevCerts(dev);
  registerDevAts(dev);
}
