// One image build at a time per cache: the base builds share a scratch directory, and a second
// caller (the cluster set-up and a test, say) should wait and then find everything warm.
import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function withLock<T>(file: string, fn: () => Promise<T>, log: (s: string) => void, timeoutMs = 60 * 60 * 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (!Number.isInteger(owner) || owner <= 0 || !alive(owner)) {
        await rm(file, { force: true }); // left by a process that is gone
        continue;
      }
      if (Date.now() > deadline) throw new Error(`image build lock ${file} held by pid ${owner} for too long`);
      if (!told) log(`waiting for the image build of pid ${owner} (${file})`);
      told = true;
      await sleep(2000);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}
