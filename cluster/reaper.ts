// Watches the process that owns a cluster and tears the cluster down if that process dies
// without doing it (SIGKILL, where no handler runs). Exits once the cluster's lock is gone.
// Usage: node cluster/reaper.ts OWNER_PID STATE_DIR
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../dev/testbed/processes.ts';
import { layout } from './layout.ts';
import { killClusterNow } from './teardown.ts';

const [ownerArg, dir] = process.argv.slice(2);
const owner = Number(ownerArg);
if (!Number.isInteger(owner) || owner <= 0 || !dir) {
  console.error('usage: reaper.ts OWNER_PID STATE_DIR');
  process.exit(2);
}
const l = layout(dir);

// Give the owner a moment to create the lock before its absence means "done".
await sleep(2000);
while (existsSync(l.lock)) {
  if (!processAlive(owner)) {
    killClusterNow(l);
    break;
  }
  await sleep(500);
}
