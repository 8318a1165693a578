// Option checks shared by the local stacks: a user's mistake reads as one line, never a stack.
import { parseDuration } from '../src/core/duration.ts';

export function usageError(command: string, message: string): never {
  console.error(`${command}: ${message}`);
  process.exit(2);
}

export function durationOption(command: string, flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch {
    return usageError(command, `${flag} ${value}: not a duration (e.g. 30s, 2m, 1h)`);
  }
}
