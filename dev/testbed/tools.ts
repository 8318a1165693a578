// Builds the test bed's real binaries (kube-apiserver, etcd, helm) from the Go modules pinned
// in dev/testbed/tools/*, into a cache directory outside the repo keyed by what went into
// them, so a warm machine never rebuilds and two pins never share a directory.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOOLS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'tools');

export interface TestbedBinaries {
  binDir: string;
  kubeApiserver: string;
  etcd: string;
  helm: string;
}

interface GoModuleBuild {
  /** Directory of the go.mod inside dev/testbed/tools. */
  module: string;
  /** Package path → output binary name. */
  packages: Record<string, string>;
  ldflags: string;
}

/** The version a go.mod requires for a module path (direct or indirect). */
export function requiredVersion(goModPath: string, modulePath: string): string {
  const text = readFileSync(goModPath, 'utf8');
  const escaped = modulePath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(text);
  if (!match?.[1]) throw new Error(`${goModPath} does not require ${modulePath}`);
  return match[1];
}

export function goBinary(): string {
  if (process.env.TKO_GO) return process.env.TKO_GO;
  const onPath = spawnSync('go', ['version'], { stdio: 'ignore' });
  if (onPath.status === 0) return 'go';
  return '/usr/local/go/bin/go';
}

export function goVersion(go: string): string {
  const out = spawnSync(go, ['env', 'GOVERSION'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`cannot run ${go}: ${out.stderr || out.error?.message}`);
  return out.stdout.trim();
}

/** Every Go build the test bed needs, with the versions read from the pinned go.mod files. */
function plannedBuilds(): { builds: GoModuleBuild[]; versions: Record<string, string> } {
  const kubeMod = join(TOOLS_DIR, 'kube', 'go.mod');
  const helmMod = join(TOOLS_DIR, 'helm', 'go.mod');
  const kubernetes = requiredVersion(kubeMod, 'k8s.io/kubernetes');
  const etcd = requiredVersion(kubeMod, 'go.etcd.io/etcd/server/v3');
  const helm = requiredVersion(helmMod, 'helm.sh/helm/v3');
  const clientGo = requiredVersion(helmMod, 'k8s.io/client-go');
  const [, kubeMajor, kubeMinor] = /^v(\d+)\.(\d+)/.exec(kubernetes) ?? [];
  const [, , helmKubeMinor] = /^v(\d+)\.(\d+)/.exec(clientGo) ?? [];

  // Without these the server reports v0.0.0-master, and helm's kubeVersion checks and
  // clients that parse /version would see a version no real cluster has.
  const kubeVersionFlags = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${kubernetes}`,
    `-X ${pkg}.gitMajor=${kubeMajor}`,
    `-X ${pkg}.gitMinor=${kubeMinor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ]);
  const helmFlags = [
    `-X helm.sh/helm/v3/internal/version.version=${helm}`,
    `-X helm.sh/helm/v3/internal/version.gitTreeState=clean`,
    ...['helm.sh/helm/v3/pkg/lint/rules', 'helm.sh/helm/v3/pkg/chartutil'].flatMap((pkg) => [
      `-X ${pkg}.k8sVersionMajor=1`,
      `-X ${pkg}.k8sVersionMinor=${helmKubeMinor}`,
    ]),
  ];
  return {
    versions: { kubernetes, etcd, helm },
    builds: [
      {
        module: 'kube',
        packages: { 'k8s.io/kubernetes/cmd/kube-apiserver': 'kube-apiserver', './cmd/etcd': 'etcd' },
        ldflags: ['-s', '-w', ...kubeVersionFlags].join(' '),
      },
      {
        module: 'helm',
        packages: { 'helm.sh/helm/v3/cmd/helm': 'helm' },
        ldflags: ['-s', '-w', ...helmFlags].join(' '),
      },
    ],
  };
}

export function cacheRoot(): string {
  return process.env.TKO_TESTBED_CACHE ?? join(homedir(), '.cache', 'ticket-key-operator', 'testbed');
}

/**
 * The cache directory for the current pins: readable versions plus a digest of every input
 * (go.mod, go.sum, sources, flags, Go version), so an edited pin gets a fresh directory.
 */
export function versionsKey(go = goBinary()): string {
  const { builds, versions } = plannedBuilds();
  const hash = createHash('sha256');
  hash.update(goVersion(go));
  for (const build of builds) {
    for (const file of ['go.mod', 'go.sum', 'cmd/etcd/main.go']) {
      const path = join(TOOLS_DIR, build.module, file);
      if (existsSync(path)) hash.update(`${build.module}/${file}\n`).update(readFileSync(path));
    }
    hash.update(JSON.stringify(build));
  }
  return `k8s-${versions.kubernetes}_etcd-${versions.etcd}_helm-${versions.helm}_${hash.digest('hex').slice(0, 12)}`;
}

function binariesIn(binDir: string): TestbedBinaries {
  return {
    binDir,
    kubeApiserver: join(binDir, 'kube-apiserver'),
    etcd: join(binDir, 'etcd'),
    helm: join(binDir, 'helm'),
  };
}

/** The binaries for the current pins if they are built, without building anything. */
export function cachedTestbedBinaries(): TestbedBinaries | undefined {
  const bins = binariesIn(join(cacheRoot(), versionsKey(), 'bin'));
  return [bins.kubeApiserver, bins.etcd, bins.helm].every((p) => existsSync(p)) ? bins : undefined;
}

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        log(line);
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited with ${code}:\n${tail.join('\n')}`));
    });
  });
}

export interface BuildOptions {
  log?: (line: string) => void;
}

/**
 * Returns the cached binaries, building whatever is missing first. Builds go to a temporary
 * directory beside the final one and are renamed into place, so an interrupted build never
 * leaves a half-written binary that a later run would trust.
 */
export async function ensureTestbedBinaries(options: BuildOptions = {}): Promise<TestbedBinaries> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const go = goBinary();
  const keyDir = join(cacheRoot(), versionsKey(go));
  const bins = binariesIn(join(keyDir, 'bin'));
  const { builds } = plannedBuilds();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Static binaries: no C toolchain needed, the way Kubernetes ships them.
    CGO_ENABLED: '0',
    // go.sum is committed; -mod=mod lets a fresh module cache fill itself from the proxy.
    GOFLAGS: '-mod=mod -buildvcs=false',
  };
  for (const build of builds) {
    const outputs = Object.values(build.packages).map((name) => join(bins.binDir, name));
    if (outputs.every((p) => existsSync(p))) continue;
    const staging = join(keyDir, `bin.partial-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    log(`testbed: building ${Object.values(build.packages).join(', ')} (module ${build.module}) …`);
    const started = Date.now();
    await run(
      go,
      ['build', '-trimpath', `-ldflags=${build.ldflags}`, '-o', `${staging}/`, ...Object.keys(build.packages)],
      join(TOOLS_DIR, build.module),
      env,
      log,
    );
    mkdirSync(bins.binDir, { recursive: true });
    for (const name of Object.values(build.packages)) renameSync(join(staging, name), join(bins.binDir, name));
    rmSync(staging, { recursive: true, force: true });
    log(`testbed: built module ${build.module} in ${Math.round((Date.now() - started) / 1000)}s`);
  }
  return bins;
}
