// One ATS configuration for every pod, as a ConfigMap mounted at ATS's sysconfdir carries it:
// the distribution's top-level files plus the dev launcher's settings, with nothing that names a
// pod. The launcher's per-pod values become pod-neutral: paths relative to the runroot prefix
// (certs, cache), the listening address from the pod's environment (ATS lets a variable named
// after a record override records.config, as a pod would get it from the downward API). So the
// hash the operator computes from the ConfigMap is the hash each pod's agent computes from its
// mounted directory.
//
//   const data = await sharedAtsConfig({ tlsPort: 18530 });                ConfigMap data
//   fleet.add(name, { ..., configDir: true, atsOptions: { env: podListenEnv(ip, 18530) } })
//   await atomicWrite(fleet.get(name).ats!.configDir, data)                kubelet's publish
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePluginBuilt } from '../../src/ats-plugin/build.ts';
import { atsLayout, configFiles, recordsOverrides } from '../../src/dev/ats-config.ts';

const DIST_CONFIG_DIR = '/etc/trafficserver';
const SERVER_PORTS = 'proxy.config.http.server_ports';

export interface SharedAtsConfigOptions {
  tlsPort: number;
  /** remap.config (default: one rule to an origin nobody listens on; the tests only do TLS). */
  remap?: string;
  /** More records.config lines, appended last (later lines win). */
  extraRecords?: string[];
}

/** The environment that makes a pod's ATS listen on its own address (overrides records.config). */
export function podListenEnv(ip: string, tlsPort: number): Record<string, string> {
  return { [SERVER_PORTS.toUpperCase().replaceAll('.', '_')]: `${tlsPort}:ssl:ipv4:ip-in=${ip}` };
}

/** ConfigMap data (file name → text) for every pod; only top-level files (ConfigMap keys have no '/'). */
export async function sharedAtsConfig(o: SharedAtsConfigOptions): Promise<Record<string, string>> {
  const data: Record<string, string> = {};
  for (const name of (await readdir(DIST_CONFIG_DIR)).sort()) {
    if ((await stat(join(DIST_CONFIG_DIR, name))).isFile()) data[name] = await readFile(join(DIST_CONFIG_DIR, name), 'utf8');
  }
  // "." is the runroot prefix ATS resolves relative certificate and storage paths against.
  const input = { layout: atsLayout('.'), addr: '0.0.0.0', tlsPort: o.tlsPort, originPort: 1, pluginPath: await ensurePluginBuilt(), statSyncMs: 100 };
  const records = recordsOverrides(input)
    .split('\n')
    .map((l) => (l.startsWith(`CONFIG ${SERVER_PORTS} `) ? `CONFIG ${SERVER_PORTS} STRING ${o.tlsPort}:ssl:ipv4` : l));
  records.pop(); // the trailing empty line
  records.push(
    // The error page templates stay the distribution's (a directory: not a ConfigMap key).
    `CONFIG proxy.config.body_factory.template_sets_dir STRING ${DIST_CONFIG_DIR}/body_factory`,
    ...(o.extraRecords ?? []),
    '',
  );
  data['records.config'] = `${data['records.config']}${records.join('\n')}`;
  Object.assign(data, configFiles(input), { 'remap.config': o.remap ?? 'map / http://127.0.0.1:1/\n' });
  return data;
}
