// Images built from the repository's Dockerfile as it is, without a registry (issue 10): the
// archives containerd imports are valid OCI archives, the images run what they should under the
// users they claim, and a broken Dockerfile step fails the build naming that step.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, copyFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { urisFromDeb822, urisFromOneLine } from '../../cluster/images/apt-mirror.ts';
import { DockerfileStepError, lastStep } from '../../cluster/images/build-target.ts';
import { Buildah, parseHumanSize } from '../../cluster/images/buildah.ts';
import { ensureImages, REPO_ROOT, type ImageResult } from '../../cluster/images/ensure-images.ts';
import { readOciArchive } from '../../cluster/images/oci-archive.ts';
import { imagePaths } from '../../cluster/images/paths.ts';

const BUILD_TIMEOUT = 40 * 60 * 1000; // cold: debootstrap, npm ci, apt-get on 2 shared cores
const buildah = new Buildah(imagePaths());
let images: ImageResult[] = [];
const containers: string[] = [];
let configDir = '';

function image(name: string): ImageResult {
  const found = images.find((i) => i.name === name);
  if (found === undefined) throw new Error(`no image ${name}`);
  return found;
}

/** A working container from the archive itself (not the store's tag): what containerd would run. */
async function fromArchive(archive: string): Promise<string> {
  const { stdout } = await buildah.run(['from', '--quiet', `oci-archive:${archive}`]);
  const ctr = stdout.trim().split('\n').pop() ?? '';
  containers.push(ctr);
  return ctr;
}

/** Runs a command in the container as the image's own user (its USER) unless `user` is given. */
async function runIn(ctr: string, cmd: string[], user?: string): Promise<string> {
  const as = user === undefined ? [] : ['--user', user];
  return (await buildah.run(['run', '--isolation', 'chroot', ...as, ctr, '--', ...cmd])).output;
}

beforeAll(async () => {
  images = await ensureImages({ log: (l) => process.stderr.write(`images: ${l}\n`) });
}, BUILD_TIMEOUT);

afterAll(async () => {
  for (const c of containers) await buildah.remove(c);
  if (configDir !== '') await rm(configDir, { recursive: true, force: true });
});

describe('image archives', () => {
  it('exist for every target, tagged with full names, as OCI archives', async () => {
    expect(images.map((i) => i.name).sort()).toEqual(['ats', 'ats-plugin', 'tko']);
    for (const img of images) {
      expect((await stat(img.archive)).size).toBe(img.sizeBytes);
      expect(img.ref).toMatch(/^docker\.io\/ticketkeys\/[a-z-]+:dev$/);
      const oci = await readOciArchive(img.archive);
      expect(oci.layout.imageLayoutVersion).toBe('1.0.0');
      expect(oci.index.manifests).toHaveLength(1);
      expect(oci.refName).toBe(img.ref);
      expect(oci.manifest.layers.length).toBeGreaterThan(0);
      expect(oci.config.os).toBe('linux');
      expect(oci.config.architecture).toBe('amd64');
    }
  });

  it('tko: runs as 65532 with entrypoint tko', async () => {
    const { config } = await readOciArchive(image('tko').archive);
    expect(config.config.User).toBe('65532:65532');
    expect(config.config.Entrypoint).toEqual(['tko']);
    expect(config.config.Env).toContain('NODE_ENV=production');
  });

  it('ats: runs as 65532 with core dumps off before traffic_manager', async () => {
    const { config } = await readOciArchive(image('ats').archive);
    expect(config.config.User).toBe('65532:65532');
    expect(config.config.Entrypoint?.join(' ')).toContain('ulimit -c 0 && exec traffic_manager');
  });
});

describe('running the images', () => {
  it('tko: `tko --help` works under Node 22 as user 65532, from the bundle alone (no node_modules)', async () => {
    const ctr = await fromArchive(image('tko').archive);
    expect((await runIn(ctr, ['id', '-u'])).trim()).toBe('65532');
    expect((await runIn(ctr, ['node', '--version'])).trim()).toMatch(/^v22\./);
    const help = await runIn(ctr, ['tko', '--help']);
    expect(help).toMatch(/Usage: tko/);
    expect(help).toMatch(/operator/);
    expect(help).toMatch(/agent/);
    // Lean: /app is scripts/bundle.ts's output only: no dependency tree, no dev tooling, no sources.
    const files = (await runIn(ctr, ['ls', '-A', '/app'])).trim().split('\n');
    expect(files).toContain('tko.mjs');
    expect(files.filter((f) => !f.endsWith('.mjs'))).toEqual([]);
    // A lazily loaded subcommand runs from the bundle too.
    expect(await runIn(ctr, ['tko', 'keys', 'generate', '--count', '2', '--out', '/tmp/ring.key'])).toMatch(/^wrote 2 keys \(96 bytes, mode 0600\)/);
  });

  it('no build-time file of the machine (npm config, CA bundle, npm cache) is left in an image', async () => {
    const check = [
      'for f in /root/.npmrc /root/build-ca.crt /root/.npm /usr/local/etc/npmrc; do [ -e "$f" ] && echo "leak: $f"; done',
      '[ -f /etc/ssl/certs/ca-certificates.crt ] && [ ! -s /etc/ssl/certs/ca-certificates.crt ] && echo "leak: empty CA bundle"',
      'true',
    ].join('; ');
    for (const name of ['tko', 'ats']) {
      const ctr = await fromArchive(image(name).archive);
      expect((await runIn(ctr, ['sh', '-c', check], '0:0')).trim()).toBe('');
    }
  });

  it('ats: the plugin is in the plugin dir and loaded by plugin.config; traffic_server -V runs as non-root', async () => {
    const ctr = await fromArchive(image('ats').archive);
    expect((await runIn(ctr, ['id', '-u'])).trim()).toBe('65532');
    expect(await runIn(ctr, ['ls', '-l', '/usr/lib/trafficserver/modules/ticketkeys_bridge.so'])).toMatch(/ticketkeys_bridge\.so/);
    expect(await runIn(ctr, ['cat', '/etc/trafficserver/plugin.config'])).toMatch(/^ticketkeys_bridge\.so --ack-fifo=\/run\/trafficserver\/ticketkeys-acks --session-fifo=\/run\/trafficserver\/ticketkeys-sessions --session-import-fifo=\/run\/trafficserver\/ticketkeys-session-imports$/m);
    const { config } = await readOciArchive(image('ats').archive);
    // Overrides that win over any records.config a ConfigMap brings.
    expect(config.config.Env).toEqual(
      expect.arrayContaining([
        'PROXY_CONFIG_CORE_LIMIT=0',
        'PROXY_CONFIG_RAW_STAT_SYNC_INTERVAL_MS=100',
        'PROXY_CONFIG_REMOTE_SYNC_INTERVAL_MS=100',
        'PROXY_CONFIG_SSL_SESSION_CACHE=2',
        'PROXY_CONFIG_BODY_FACTORY_TEMPLATE_SETS_DIR=/usr/share/trafficserver/body_factory',
      ]),
    );
    expect(await runIn(ctr, ['traffic_server', '-V'])).toMatch(/Traffic Server 9\.2/);
    // ATS's runtime, log and cache dirs are writable by that user.
    for (const d of ['/run/trafficserver', '/var/log/trafficserver', '/var/cache/trafficserver']) {
      expect((await runIn(ctr, ['stat', '-c', '%u', d])).trim()).toBe('65532');
    }
  });

  it('ats: with a flat read-only config dir (a ConfigMap) over /etc/trafficserver, traffic_manager starts as 65532, loads the plugin, applies the overrides and serves mgmtapi.sock', async () => {
    const ctr = await fromArchive(image('ats').archive);
    expect(await runIn(ctr, ['traffic_server', '-C', 'verify_global_plugin /usr/lib/trafficserver/modules/ticketkeys_bridge.so'])).toMatch(/Success/);
    // The ConfigMap: the image's own files, flat (no body_factory subdirectory), Debian's
    // records.config without any of the agent's lines, mounted read-only.
    const mnt = (await buildah.run(['mount', ctr])).stdout.trim();
    configDir = await mkdtemp(join(tmpdir(), 'tko-ats-configmap-'));
    for (const e of await readdir(join(mnt, 'etc/trafficserver'), { withFileTypes: true })) {
      if (e.isFile()) await copyFile(join(mnt, 'etc/trafficserver', e.name), join(configDir, e.name));
    }
    await chmod(configDir, 0o755);
    expect(await readFile(join(configDir, 'records.config'), 'utf8')).not.toMatch(/core_limit|raw_stat_sync/);
    // chroot isolation shares the host network: listen on loopback only, on a port nobody uses.
    const port = 20000 + Math.floor(Math.random() * 20000);
    const script = [
      'ulimit -c 0',
      'traffic_manager >/tmp/tm.out 2>&1 & tm=$!',
      'for i in $(seq 1 60); do traffic_ctl metric match ticketkeys 2>/dev/null | grep -q plugin.ticketkeys && break; sleep 0.5; done',
      'traffic_ctl metric get plugin.ticketkeys.generation',
      'traffic_ctl config get proxy.config.core_limit proxy.config.raw_stat_sync_interval_ms proxy.config.ssl.session_cache',
      'stat -c "%n %U %F" /run/trafficserver/mgmtapi.sock',
      'kill $tm; wait $tm',
      'grep -E "EMERGENCY|FATAL|ERROR" /var/log/trafficserver/diags.log || true',
    ].join('; ');
    const out = (
      await buildah.run([
        'run', '--isolation', 'chroot', '--volume', `${configDir}:/etc/trafficserver:ro`,
        '--env', `PROXY_CONFIG_HTTP_SERVER_PORTS=${port}:ipv4:ip-in=127.0.0.1`, ctr, '--', 'sh', '-c', script,
      ])
    ).output;
    expect(out).toMatch(/^plugin\.ticketkeys\.generation 0$/m);
    expect(out).toMatch(/^proxy\.config\.core_limit: 0$/m);
    expect(out).toMatch(/^proxy\.config\.raw_stat_sync_interval_ms: 100$/m);
    expect(out).toMatch(/^proxy\.config\.ssl\.session_cache: 2$/m);
    expect(out).toMatch(/\/run\/trafficserver\/mgmtapi\.sock trafficserver socket/);
    expect(out).not.toMatch(/EMERGENCY|FATAL/);
  }, 120000);

  it('ats-plugin: its entrypoint copies the plugin where it is told (the init-container way)', async () => {
    const { config } = await readOciArchive(image('ats-plugin').archive);
    expect(config.config.Entrypoint).toEqual(['cp', '/ticketkeys_bridge.so']);
    const ctr = await fromArchive(image('ats-plugin').archive);
    await runIn(ctr, [...config.config.Entrypoint ?? [], '/tmp/plugin.so']);
    expect(await runIn(ctr, ['ls', '-l', '/tmp/plugin.so'])).toMatch(/plugin\.so/);
  });
});

describe('a broken Dockerfile', () => {
  let dir = '';
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('fails the build with an error naming the failing step and carrying its output', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tko-broken-dockerfile-'));
    const original = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const anchor = 'FROM debian:bookworm-slim AS ats-plugin-build\n';
    expect(original).toContain(anchor);
    const broken = original.replace(anchor, `${anchor}RUN echo "tko deliberately broken step" && exit 7\n`);
    await writeFile(join(dir, 'Dockerfile'), broken);

    const err = await ensureImages({ dockerfile: join(dir, 'Dockerfile'), names: ['ats-plugin'] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DockerfileStepError);
    const e = err as DockerfileStepError;
    expect(e.step).toMatch(/STEP \d+\/\d+: RUN echo "tko deliberately broken step" && exit 7/);
    expect(e.message).toContain('failed at');
    expect(e.message).toContain('RUN echo "tko deliberately broken step" && exit 7');
    expect(e.output).toContain('tko deliberately broken step');
  }, BUILD_TIMEOUT);
});

describe('helpers', () => {
  it('reads the Debian mirror from either apt source format, skipping disabled and other suites', () => {
    const deb822 = [
      'Types: deb',
      'URIs: http://mirror.example/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      '',
      'Types: deb',
      'URIs: http://mirror.example/debian-security',
      'Suites: bookworm-security',
      '',
      'Enabled: no',
      'Types: deb',
      'URIs: http://disabled.example/debian',
      'Suites: bookworm',
    ].join('\n');
    expect(urisFromDeb822(deb822, 'bookworm')).toEqual(['http://mirror.example/debian']);
    expect(urisFromOneLine('# deb http://old.example/debian bookworm main\ndeb [arch=amd64] http://one.example/debian bookworm main\n', 'bookworm')).toEqual(['http://one.example/debian']);
  });

  it('names the last STEP buildah printed, with or without a stage prefix', () => {
    expect(lastStep('STEP 1/2: FROM x\nok\nSTEP 2/2: RUN false\nError')).toBe('STEP 2/2: RUN false');
    expect(lastStep('[1/3] STEP 1/4: FROM a\n[2/3] STEP 3/6: RUN make\nboom')).toBe('[2/3] STEP 3/6: RUN make');
    expect(lastStep('no steps')).toBeUndefined();
  });

  it('parses buildah sizes', () => {
    expect(parseHumanSize('320 MB')).toBe(320e6);
    expect(parseHumanSize('2.17 MB')).toBe(2.17e6);
    expect(parseHumanSize('1.2 GB')).toBe(1.2e9);
  });
});
