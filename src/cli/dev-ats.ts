// Placeholder until this subcommand lands (being written now).
import type { Command } from 'commander';

export function registerDevAts(_dev: Command): void {}
