// ConfigConsistent on the real API server with a real operator and real agents (memory
// installer): the operator reads spec.atsConfig.configMapRef live, and each way ATS reloads of it
// can replace or bypass the pushed keys shows as its reason, a message naming the file and line,
// and a Warning Event; fixing the ConfigMap brings Consistent back with a Normal Event. Missing,
// unparseable and 1 MiB garbage ConfigMaps never stop key delivery.
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import type { TicketKeySet } from '../../src/api/index.ts';
import { TicketKeySetAnnotator } from '../../src/operator/kube/annotations.ts';
import { eventually, statusOf, testKubeConfig } from '../helpers/kube.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19443;
const CM = 'ats-config';
const PODS = ['ats-0', 'ats-1'];
const sc = useOperatorScenario('operator-config-consistent', {
  port: PORT,
  pods: PODS.map((name, i) => ({ name, ip: `127.0.110.${1 + i}`, labels: { app: 'cfg' } })),
  // ticketLifetime unset: it follows rotation.interval (1h).
  ticketKeySet: ticketKeySet('web', {
    selector: { matchLabels: { app: 'cfg' } },
    rotation: { interval: '1h' },
    promotion: { timeout: '5s' },
    agent: { port: PORT },
    atsConfig: { configMapRef: { name: CM } },
  }),
  // The ConfigMap does not exist yet: the first ring reaches every pod all the same.
  firstRingPods: 2,
});
const core = () => testKubeConfig().makeApiClient(CoreV1Api);

const CONSISTENT = {
  'records.config': 'CONFIG proxy.config.ssl.session_cache.timeout INT 3600\n',
  'ssl_multicert.config': 'dest_ip=* ssl_cert_name=site.pem\n',
  'sni.yaml': 'sni:\n- fqdn: www.example.com\n',
  'remap.config': 'map / http://origin/\n',
};

/** Creates or replaces the ConfigMap's data, as `kubectl apply` of an edit would. */
async function putConfigMap(data: Record<string, string>): Promise<void> {
  const api = core();
  try {
    const current = await api.readNamespacedConfigMap({ namespace: sc.ns.name, name: CM });
    await api.replaceNamespacedConfigMap({ namespace: sc.ns.name, name: CM, body: { ...current, data } });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
    await api.createNamespacedConfigMap({ namespace: sc.ns.name, body: { metadata: { name: CM }, data } });
  }
}

const configCondition = (t: TicketKeySet) => t.status?.conditions?.find((c) => c.type === 'ConfigConsistent');

async function untilReason(reason: string, status: string): Promise<{ message: string }> {
  const t = await untilStatus(sc.tks, 'web', `ConfigConsistent ${reason}`, (t) => configCondition(t)?.reason === reason);
  const c = configCondition(t)!;
  expect(c.status).toBe(status);
  return c;
}

const untilEvent = (type: string, reason: string) =>
  eventually(`${type} Event ${reason}`, async () => {
    const events = await ticketKeySetEvents(testKubeConfig(), sc.ns.name, 'web');
    return events.find((e) => e.type === type && e.reason === reason);
  });

describe('operator: ConfigConsistent from the referenced ConfigMap', () => {
  it('ConfigMapNotFound while the ConfigMap does not exist, with the first ring on every pod', async () => {
    const c = await untilReason('ConfigMapNotFound', 'Unknown');
    expect(c.message).toBe(`ConfigMap ${CM} (spec.atsConfig.configMapRef) does not exist in this namespace; the ATS configuration cannot be checked`);
    await untilEvent('Warning', 'ConfigMapNotFound');
    expect(isReady(await sc.tks.get('web'), '2/2')).toBe(true);
  });

  const cases: Array<[string, string, Record<string, string>, string]> = [
    [
      'RelativeTicketKeyFile',
      'False',
      { ...CONSISTENT, 'records.config': `${CONSISTENT['records.config']}CONFIG proxy.config.ssl.server.ticket_key.filename STRING ticket.key\n` },
      'records.config line 2: proxy.config.ssl.server.ticket_key.filename is the relative path "ticket.key"',
    ],
    [
      'DestIpLinesUsePrivateKeys',
      'False',
      { ...CONSISTENT, 'ssl_multicert.config': 'dest_ip=* ssl_cert_name=site.pem\ndest_ip=10.9.8.7 ssl_cert_name=other.pem\n' },
      'ssl_multicert.config line 2 (dest_ip=10.9.8.7)',
    ],
    [
      'SessionTicketsDisabled',
      'False',
      { ...CONSISTENT, 'records.config': `${CONSISTENT['records.config']}CONFIG proxy.config.ssl.server.session_ticket.enable INT 0\n` },
      'records.config line 2: proxy.config.ssl.server.session_ticket.enable is 0',
    ],
    [
      'TicketLifetimeHintExceedsRetention',
      'False',
      { ...CONSISTENT, 'records.config': 'CONFIG proxy.config.ssl.session_cache.timeout INT 86400\n' },
      'records.config line 1: proxy.config.ssl.session_cache.timeout is 86400 (24h)',
    ],
    ['ConfigUnparseable', 'Unknown', { ...CONSISTENT, 'sni.yaml': 'sni:\n- fqdn: [\n' }, 'sni.yaml line'],
  ];

  for (const [reason, status, data, message] of cases) {
    it(`${reason}: its reason, a message naming the file and line, and a Warning Event`, async () => {
      await putConfigMap(data);
      const c = await untilReason(reason, status);
      expect(c.message).toContain(message);
      const event = await untilEvent('Warning', reason);
      expect(event.note).toContain(message);
    });
  }

  it('fixing the ConfigMap brings Consistent back, with a Normal Event', async () => {
    await putConfigMap(CONSISTENT);
    const c = await untilReason('Consistent', 'True');
    expect(c.message).toContain(`ConfigMap ${CM}`);
    await untilEvent('Normal', 'ConfigConsistent');
  });

  it('a 1 MiB garbage ConfigMap is reported and never stops a rotation', async () => {
    const garbage = Array.from({ length: 16_000 }, (_, i) => `%%garbage line ${i} ${'#'.repeat(40)}`).join('\n');
    expect(garbage.length).toBeGreaterThan(900_000);
    await putConfigMap({ ...CONSISTENT, 'ssl_multicert.config': garbage.slice(0, 1_000_000) });
    const c = await untilReason('ConfigUnparseable', 'Unknown');
    expect(c.message).toContain('ssl_multicert.config: line 1: ');
    const before = (await sc.tks.get('web')).status!.keyGeneration!;
    await new TicketKeySetAnnotator({ kubeConfig: testKubeConfig() }).requestRotation({ namespace: sc.ns.name, name: 'web' });
    const t = await untilStatus(sc.tks, 'web', 'rotated and Ready 2/2', (t) => t.status!.keyGeneration! > before && t.status?.phase === 'Stable' && isReady(t, '2/2'));
    for (const pod of PODS) expect((await sc.fleet.client(pod).getRing()).ats.generation).toBe(t.status!.keyGeneration);
    expect(configCondition(t)?.reason).toBe('ConfigUnparseable');
  });
});
