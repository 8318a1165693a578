// `tko dev certs --dir DIR [--days N]`: development mTLS material for the agent and operator.
import { InvalidArgumentError, type Command } from 'commander';

function positiveDays(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number of days');
  return n;
}

export function registerDevCerts(dev: Command): void {
  dev
    .command('certs')
    .description('write a dev CA, the operator client certificate and the agent serving certificate (short-lived, never commit them)')
    .requiredOption('--dir <dir>', 'directory to write ca.crt/.key, operator.crt/.key, agent.crt/.key into')
    .option('--days <n>', 'validity in days', positiveDays, 1)
    .action(async (opts: { dir: string; days: number }) => {
      const { createDevCerts, writeDevCerts } = await import('../dev/certs.ts');
      const files = await writeDevCerts(opts.dir, await createDevCerts({ days: opts.days }));
      process.stdout.write(`${JSON.stringify(files, null, 2)}\n`);
    });
}
