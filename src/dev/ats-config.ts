// Configuration files of a private ATS instance (dev/test only). Pure: returns file contents.
// Starts from a copy of the distribution's /etc/trafficserver; these lines are appended to its
// records.config (later lines win) and the small config files below replace the originals.

export interface AtsLayout {
  /** Everything lives under here (runroot). */
  root: string;
  etc: string;
  run: string;
  log: string;
  cache: string;
  certs: string;
}

export function atsLayout(root: string): AtsLayout {
  return {
    root,
    etc: `${root}/etc`,
    run: `${root}/run`,
    log: `${root}/log`,
    cache: `${root}/cache`,
    certs: `${root}/certs`,
  };
}

export interface AtsConfigInput {
  layout: AtsLayout;
  addr: string;
  tlsPort: number;
  originPort: number;
  pluginPath: string;
  /** plugin.config arguments after the path, e.g. ['--ack-fifo=/run/.../ticketkeys-acks']. */
  pluginArgs?: string[];
  /** Absolute proxy.config.ssl.server.ticket_key.filename; unset when undefined (recommended). */
  keyFile?: string;
  /** proxy.config.raw_stat_sync_interval_ms and remote_sync_interval_ms (plugin stats lag). */
  statSyncMs: number;
  /** proxy.config.diags.debug.tags; debug output off when undefined. */
  debugTags?: string;
  /** Extra records.config lines, e.g. "CONFIG proxy.config.ssl.session_cache.timeout INT 60". */
  extraRecords?: string[];
}

/** Binaries stay in /usr; every writable path is under the runroot. */
export function runrootYaml({ root, etc, run, log, cache }: AtsLayout): string {
  return [
    `prefix: ${root}`,
    'exec_prefix: /usr',
    'bindir: /usr/bin',
    'sbindir: /usr/sbin',
    `sysconfdir: ${etc}`,
    `datadir: ${cache}`,
    'includedir: /usr/include',
    'libdir: /usr/lib/trafficserver',
    'libexecdir: /usr/lib/trafficserver/modules',
    `localstatedir: ${run}`,
    `runtimedir: ${run}`,
    `logdir: ${log}`,
    `cachedir: ${cache}`,
    '',
  ].join('\n');
}

export function recordsOverrides(c: AtsConfigInput): string {
  const lines = [
    '',
    '# ---- ticket-key-operator dev instance ----',
    // Running as root in tests: do not switch users.
    'CONFIG proxy.config.admin.user_id STRING #-1',
    `CONFIG proxy.config.http.server_ports STRING ${c.tlsPort}:ssl:ipv4:ip-in=${c.addr}`,
    `CONFIG proxy.config.ssl.server.cert.path STRING ${c.layout.certs}`,
    `CONFIG proxy.config.ssl.server.private_key.path STRING ${c.layout.certs}`,
    'CONFIG proxy.config.url_remap.remap_required INT 1',
    // Small footprint: several instances share two cores with other work.
    'CONFIG proxy.config.exec_thread.autoconfig INT 0',
    'CONFIG proxy.config.exec_thread.limit INT 1',
    'CONFIG proxy.config.exec_thread.affinity INT 0',
    'CONFIG proxy.config.task_threads INT 1',
    'CONFIG proxy.config.http.cache.http INT 0',
    'CONFIG proxy.config.cache.ram_cache.size INT 1048576',
    'CONFIG proxy.config.log.logging_enabled INT 1',
    'CONFIG proxy.config.net.connections_throttle INT 1000',
    // ATS's own session cache: the one the plugin's cache operations act on.
    'CONFIG proxy.config.ssl.session_cache INT 2',
    // A traffic_server core file would contain the ticket keys.
    'CONFIG proxy.config.core_limit INT 0',
    // Plugin stats reach traffic_manager (and RECORD_GET) after these two intervals.
    `CONFIG proxy.config.raw_stat_sync_interval_ms INT ${c.statSyncMs}`,
    `CONFIG proxy.config.remote_sync_interval_ms INT ${c.statSyncMs}`,
  ];
  if (c.keyFile !== undefined) lines.push(`CONFIG proxy.config.ssl.server.ticket_key.filename STRING ${c.keyFile}`);
  if (c.debugTags !== undefined) {
    lines.push('CONFIG proxy.config.diags.debug.enabled INT 1', `CONFIG proxy.config.diags.debug.tags STRING ${c.debugTags}`);
  }
  lines.push(...(c.extraRecords ?? []), '');
  return lines.join('\n');
}

/** The other files, by name under etc/. */
export function configFiles(c: AtsConfigInput): Record<string, string> {
  return {
    'remap.config': `map / http://${c.addr}:${c.originPort}/\n`,
    'ssl_multicert.config': 'dest_ip=* ssl_cert_name=cert.pem ssl_key_name=key.pem\n',
    'plugin.config': `${[c.pluginPath, ...(c.pluginArgs ?? [])].join(' ')}\n`,
    'storage.config': `${c.layout.cache} 64M\n`,
    'ip_allow.yaml': [
      'ip_allow:',
      '  - apply: in',
      '    ip_addrs: 127.0.0.0/8',
      '    action: allow',
      '    methods: ALL',
      '',
    ].join('\n'),
  };
}
