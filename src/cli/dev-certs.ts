// `tko dev certs --dir DIR [--days N] [--namespace NS] [--pod NAME | --service-account SA]`:
// development mTLS material for the agent and operator (docs/agent.md, trust model).
import { InvalidArgumentError, type Command } from 'commander';

function positiveDays(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number of days');
  return n;
}

interface DevCertsFlags {
  dir: string;
  days: number;
  namespace: string;
  pod?: string;
  serviceAccount?: string;
}

export function registerDevCerts(dev: Command): void {
  dev
    .command('certs')
    .description('write a dev CA, the operator client certificate and an agent serving certificate (short-lived, never commit them)')
    .requiredOption('--dir <dir>', 'directory to write ca.crt/.key, operator.crt/.key, agent.crt/.key into')
    .option('--days <n>', 'validity in days', positiveDays, 1)
    .option('--namespace <ns>', 'namespace of the pod or service account the agent certificate names', 'default')
    .option('--pod <name>', 'issue the agent certificate for this one pod (URI SAN …/ns/NS/pod/NAME)')
    .option('--service-account <name>', 'issue it for every pod of this service account (URI SAN …/ns/NS/sa/NAME; the default, with "default")')
    .action(async (opts: DevCertsFlags, command: Command) => {
      if (opts.pod && opts.serviceAccount) command.error('error: give --pod or --service-account, not both');
      const [{ createDevCerts, writeDevCerts }, { agentIdentityUri }] = await Promise.all([import('../dev/certs.ts'), import('../agent/identity.ts')]);
      const agent = opts.pod ? { namespace: opts.namespace, pod: opts.pod } : { namespace: opts.namespace, serviceAccount: opts.serviceAccount ?? 'default' };
      try {
        agentIdentityUri(agent);
      } catch (err) {
        command.error(`error: ${(err as Error).message}`);
      }
      const files = await writeDevCerts(opts.dir, await createDevCerts({ days: opts.days, agent }));
      process.stdout.write(`${JSON.stringify(files, null, 2)}\n`);
    });
}
