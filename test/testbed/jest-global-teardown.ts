// Jest global teardown: stops the test bed if this process started it (see the setup), and
// leaves one that was handed in through TKO_TESTBED_DIR alone.
import type { Guard } from '../../dev/testbed/guard.ts';
import { GUARD_KEY } from './jest-shared.ts';
import { stopTestbed } from '../../dev/testbed/testbed.ts';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.TKO_TESTBED_DIR;
  if (!dir || process.env.TKO_TESTBED_OWNER_PID !== String(process.pid)) return;
  // Teardown runs once per project; only the first one finds the owner mark.
  delete process.env.TKO_TESTBED_OWNER_PID;
  await stopTestbed(dir);
  const registry = globalThis as Record<symbol, unknown>;
  (registry[GUARD_KEY] as Guard | undefined)?.release();
  delete registry[GUARD_KEY];
}
