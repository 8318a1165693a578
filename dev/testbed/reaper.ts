// Watches the process that started a test bed (the jest run) and tears the test bed down if
// that process dies without doing it, e.g. on SIGKILL, where no exit handler runs.
// Usage: node dev/testbed/reaper.ts OWNER_PID DIR. Exits once DIR is gone.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from './processes.ts';
import { killTestbedNow } from './testbed.ts';

const [ownerArg, dir] = process.argv.slice(2);
const owner = Number(ownerArg);
if (!Number.isInteger(owner) || owner <= 0 || !dir) {
  console.error('usage: reaper.ts OWNER_PID DIR');
  process.exit(2);
}

while (existsSync(dir)) {
  if (!processAlive(owner)) {
    killTestbedNow(dir);
    break;
  }
  await sleep(500);
}
