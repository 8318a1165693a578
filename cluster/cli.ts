// `npm run cluster -- up|down|status`: the project's single-node cluster (docs/cluster.md).
// `up` leaves it running detached until `down`. Errors are one line, never a stack trace.
import { Command, CommanderError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { startCluster } from './cluster.ts';
import { ClusterError } from './errors.ts';
import { DEFAULT_STATE_DIR, layout } from './layout.ts';
import { clusterStatus } from './status.ts';
import { leftovers, stopCluster } from './teardown.ts';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const program = new Command('cluster')
  .description('a real single-node Kubernetes cluster on this machine (kubelet + containerd + control plane)')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });

const dirOption = ['--dir <dir>', 'state directory', DEFAULT_STATE_DIR] as const;

program
  .command('up')
  .description('start the cluster (detached; stop it with down), import image archives, print the admin kubeconfig')
  .option(...dirOption)
  .option('--image <archive...>', 'OCI image archive(s) to import into containerd (fully qualified reference)', [])
  .option('--quiet', 'print only the kubeconfig path', false)
  .action(async (opts: { dir: string; image: string[]; quiet: boolean }) => {
    const started = Date.now();
    const cluster = await startCluster({ dir: opts.dir, images: opts.image, log });
    log(`cluster: up in ${((Date.now() - started) / 1000).toFixed(1)}s; stop with: npm run cluster -- down`);
    log(`cluster: export KUBECONFIG=${cluster.kubeconfig}`);
    if (!opts.quiet) process.stdout.write(readFileSync(cluster.kubeconfig, 'utf8'));
  });

program
  .command('down')
  .description('stop everything the cluster started and remove its state')
  .option(...dirOption)
  .action(async (opts: { dir: string }) => {
    const started = Date.now();
    const l = layout(opts.dir);
    if (!existsSync(l.dir)) {
      log(`cluster: nothing to stop in ${l.dir}`);
      return;
    }
    await stopCluster(l, log);
    const left = leftovers(l);
    if (left.length) throw new ClusterError(`down left behind: ${left.join('; ')}`);
    log(`cluster: down in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  });

program
  .command('status')
  .description('show processes, node readiness and pods; exit 1 if the cluster is not fully running')
  .option(...dirOption)
  .action(async (opts: { dir: string }) => {
    const { text, running } = await clusterStatus(opts.dir);
    console.log(text);
    if (!running) process.exitCode = 1;
  });

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // The first line says what went wrong; a failed start adds the component's log tail.
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`cluster: ${err instanceof ClusterError ? message : message.split('\n')[0]}\n`);
  process.exit(1);
}
