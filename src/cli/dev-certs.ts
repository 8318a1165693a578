// Placeholder until this subcommand lands (being written now).
import type { Command } from 'commander';

export function registerDevCerts(_dev: Command): void {}
