// `npm run testbed -- up|down|kubeconfig --dir DIR`: run the test bed by hand, e.g. to keep one
// up across many jest runs (point TKO_TEST_KUBECONFIG at DIR/kubeconfig).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { kubeconfigYaml } from './kubeconfig.ts';
import { identityKubeconfigParts, startTestbed, stopTestbed } from './testbed.ts';

const program = new Command('testbed').description('a real kube-apiserver + etcd on loopback for the integration tests');

program
  .command('up')
  .description('start a fresh test bed in DIR (stopping any left there) and print the kubeconfig path')
  .requiredOption('--dir <dir>', 'directory for data, certificates, logs and the kubeconfig')
  .option('--crds <dir>', 'directory of CRD YAML to apply (default: the repo crds/)')
  .action(async (opts: { dir: string; crds?: string }) => {
    const started = Date.now();
    const testbed = await startTestbed({
      dir: opts.dir,
      ...(opts.crds ? { crdDir: resolve(opts.crds) } : {}),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stderr.write(`testbed: up in ${((Date.now() - started) / 1000).toFixed(1)}s; stop with: npm run testbed -- down --dir ${testbed.dir}\n`);
    console.log(testbed.kubeconfig);
  });

program
  .command('down')
  .description('stop everything the test bed in DIR started and remove its data')
  .requiredOption('--dir <dir>', 'the directory given to up')
  .action(async (opts: { dir: string }) => {
    await stopTestbed(opts.dir);
  });

program
  .command('kubeconfig')
  .description('write a kubeconfig for another identity (client certificate from the test bed CA), for RBAC checks')
  .requiredOption('--dir <dir>', 'the directory given to up')
  .requiredOption('--user <name>', 'user name (certificate CN)')
  .option('--group <group...>', 'groups (certificate O)', [])
  .requiredOption('--out <file>', 'where to write the kubeconfig')
  .action(async (opts: { dir: string; user: string; group: string[]; out: string }) => {
    const parts = await identityKubeconfigParts(opts.dir, { user: opts.user, groups: opts.group });
    writeFileSync(opts.out, kubeconfigYaml(parts), { mode: 0o600 });
    console.log(resolve(opts.out));
  });

await program.parseAsync();
