// Placeholder until `tko keys` lands (being written now).
import type { Command } from 'commander';

export function registerKeys(_program: Command): void {}
