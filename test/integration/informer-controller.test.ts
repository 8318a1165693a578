// The controller wired to real informers: events of TicketKeySets, Pods and owned Secrets in
// the API server become reconciles of the right TicketKeySet keys.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import winston from 'winston';
import type { TicketKeySet } from '../../src/api/ticket-key-set.ts';
import { Controller } from '../../src/operator/runtime/controller.ts';
import type { ResilientInformer } from '../../src/operator/runtime/informer.ts';
import { managedSecretInformer, podInformer, ticketKeySetInformer } from '../../src/operator/informers.ts';
import { SecretStore } from '../../src/operator/kube/secret-store.ts';
import { initialState } from '../../src/core/state.ts';
import { step } from '../../src/core/step.ts';
import { pod, policy, T0 } from '../unit/core/support.ts';
import { TICKETKEYSET } from '../../src/operator/kube/resources.ts';
import { mapBySelector, mapToControllerOwner, mapToSelf } from '../../src/operator/runtime/mappers.ts';
import { eventually, testKubeConfig, useNamespace } from '../helpers/kube.ts';
import { FakePods } from '../../dev/fake-pods.ts';
import { TicketKeySets, ticketKeySet } from '../../dev/ticket-key-sets.ts';

const ns = useNamespace('informer-controller');
const silent = winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });

let tksInformer: ResilientInformer<TicketKeySet>;
let pods: ResilientInformer<V1Pod>;
let secrets: ReturnType<typeof managedSecretInformer>;
let controller: Controller;
const reconciled: string[] = [];
let failNext = 0;

beforeAll(async () => {
  const kc = testKubeConfig();
  const scope = { namespaces: [ns.name], informer: { logger: silent } };
  tksInformer = ticketKeySetInformer<TicketKeySet>(kc, scope);
  pods = podInformer(kc, scope);
  secrets = managedSecretInformer(kc, scope);
  controller = new Controller({
    name: 'ticketkeyset',
    maxConcurrentReconciles: 2,
    logger: silent,
    reconcile: async (key) => {
      reconciled.push(key);
      if (failNext > 0) {
        failNext--;
        throw new Error('transient failure');
      }
      return {};
    },
  })
    .watch(tksInformer, mapToSelf)
    .watch(pods, mapBySelector(tksInformer, (t) => t.spec.selector))
    .watch(secrets, mapToControllerOwner(TICKETKEYSET));
  for (const i of [tksInformer, pods, secrets]) i.start();
  await controller.start();
});

afterAll(async () => {
  await controller.stop();
  for (const i of [tksInformer, pods, secrets]) await i.stop();
});

async function reconciledAgain(key: string, action: () => Promise<unknown>): Promise<void> {
  const before = reconciled.filter((k) => k === key).length;
  await action();
  await eventually(`reconcile of ${key}`, () => (reconciled.filter((k) => k === key).length > before ? true : undefined));
}

describe('Controller with real informers', () => {
  const key = () => `${ns.name}/web`;

  it('reconciles a new TicketKeySet', async () => {
    await reconciledAgain(key(), () => new TicketKeySets(testKubeConfig(), ns.name).create(ticketKeySet('web', { selector: { matchLabels: { app: 'ats' } } })));
  });

  it('reconciles the TicketKeySet whose selector matches a new Pod', async () => {
    await eventually('cache has the TicketKeySet', () => tksInformer.get('web', ns.name));
    await reconciledAgain(key(), () => new FakePods(testKubeConfig(), ns.name).create({ name: 'ats-0', labels: { app: 'ats' } }));
  });

  it('reconciles it again when the Pod is relabelled out of its selector', async () => {
    await eventually('cache has the pod', () => pods.get('ats-0', ns.name));
    await reconciledAgain(key(), () =>
      testKubeConfig()
        .makeApiClient(CoreV1Api)
        .patchNamespacedPod(
          { namespace: ns.name, name: 'ats-0', body: [{ op: 'replace', path: '/metadata/labels/app', value: 'other' }] },
        ),
    );
  });

  it('reconciles the owner of a Secret it manages', async () => {
    const tks = tksInformer.get('web', ns.name)!;
    await reconciledAgain(key(), () =>
      new SecretStore({ kubeConfig: testKubeConfig() }).save({ namespace: ns.name, name: 'web-ticket-keys' }, { name: 'web', uid: tks.metadata.uid! }, step(initialState(), { pods: [pod('a')] }, policy(), T0).state),
    );
  });

  it('retries a failed reconcile until it succeeds', async () => {
    failNext = 2;
    await reconciledAgain(key(), () => new TicketKeySets(testKubeConfig(), ns.name).mergePatch('web', { metadata: { labels: { touched: 'yes' } } }));
    await eventually('two retries', () => (failNext === 0 && controller.queue.numRequeues(key()) === 0 ? true : undefined));
    expect(reconciled.filter((k) => k === key()).length).toBeGreaterThanOrEqual(6);
  });
});
