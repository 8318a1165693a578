// Placeholder until `tko agent` lands (being written now).
import type { Command } from 'commander';

export function registerAgent(_program: Command): void {}
