// GitOps on the real API server: a TicketKeySet kept in git and applied by Argo CD or Flux with
// server-side apply (field managers argocd-controller / kustomize-controller), a real
// `tko operator`, agents with the memory installer. The operator writes status only (the
// rotate-now bookkeeping lives on its own Secret), so re-applying the manifest after rotations
// is a no-op without conflicts; a rotate-now value changed in git rotates exactly once; Flux's
// reconcile.fluxcd.io/requestedAt triggers a reconcile (acknowledged in
// status.lastHandledReconcileAt) and never a rotation. Also checks the kstatus conditions and the
// shipped Argo CD health check (run with lua5.4) on the live objects, and, with
// TKO_ARGOCD_TESTDATA_DIR set, dumps them as the health check's testdata fixtures.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { ANNOTATION_FLUX_REQUESTED_AT, ANNOTATION_ROTATE_NOW, type TicketKeySet } from '../../src/api/index.ts';
import { argoHealth } from '../helpers/argocd-health.ts';
import { eventually, kubeRequest, testKubeConfig } from '../helpers/kube.ts';
import { ticketKeySetEvents } from '../../dev/operator-records.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet, tksPath, type TicketKeySetBody } from '../../dev/ticket-key-sets.ts';

const PORT = 19613;
const sc = useOperatorScenario('operator-gitops', {
  port: PORT,
  pods: [
    { name: 'ats-0', ip: '127.0.213.1', labels: { app: 'gitops' } },
    { name: 'ats-1', ip: '127.0.213.2', labels: { app: 'gitops' } },
    { name: 'ats-p', ip: '127.0.213.3', labels: { app: 'paused' } },
    { name: 'ats-f', ip: '127.0.213.4', labels: { app: 'flaky' } },
  ],
});
const ns = sc.ns;
const ARGO = 'argocd-controller';
const FLUX = 'kustomize-controller';

/** The manifest as git holds it, version by version. */
function manifest(interval: string, annotations: Record<string, string> = {}): TicketKeySetBody {
  return ticketKeySet(
    'web',
    { selector: { matchLabels: { app: 'gitops' } }, rotation: { interval }, ticketLifetime: '5s', promotion: { timeout: '4s' }, agent: { port: PORT } },
    // (An empty annotations map in a manifest is itself a field two appliers would fight over.)
    { metadata: { name: 'web', labels: { 'app.kubernetes.io/part-of': 'edge' }, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) } },
  );
}

/** Server-side apply as a GitOps controller does it (force=false: a conflict is an error, not a takeover). */
async function apply(body: TicketKeySetBody, manager: string, force = false): Promise<TicketKeySet> {
  const res = await applyRaw(body, manager, force);
  if (res.status !== 200 && res.status !== 201) throw new Error(`apply as ${manager}: HTTP ${res.status}: ${res.body}`);
  return res.json<TicketKeySet>();
}

function applyRaw(body: TicketKeySetBody, manager: string, force: boolean) {
  return kubeRequest(testKubeConfig(), 'PATCH', `${tksPath(ns.name, body.metadata.name)}?fieldManager=${manager}&force=${force}`, {
    headers: { 'Content-Type': 'application/apply-patch+yaml' },
    body,
  });
}

/** What `kubectl annotate` (or `flux reconcile`-style tooling) does: a merge patch of one annotation. */
async function annotate(name: string, key: string, value: string): Promise<void> {
  const res = await kubeRequest(testKubeConfig(), 'PATCH', `${tksPath(ns.name, name)}?fieldManager=kubectl-annotate`, {
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: { metadata: { annotations: { [key]: value } } },
  });
  if (res.status !== 200) throw new Error(`annotate: HTTP ${res.status}: ${res.body}`);
}

const rotationsCompleted = async (name: string) =>
  (await ticketKeySetEvents(testKubeConfig(), ns.name, name)).filter((e) => e.reason === 'RotationComplete').reduce((n, e) => n + e.count, 0);
const cond = (t: TicketKeySet, type: string) => t.status?.conditions?.find((c) => c.type === type);

/** Managers of fields outside status: only the appliers and the annotating client may appear. */
function mainResourceManagers(t: TicketKeySet): string[] {
  return (t.metadata.managedFields ?? []).filter((m) => m.subresource !== 'status').map((m) => m.manager ?? '');
}

const applierEntry = (t: TicketKeySet, manager: string) => t.metadata.managedFields?.find((m) => m.manager === manager && m.operation === 'Apply');

/** Writes the live object (without managedFields) as an Argo CD health testdata fixture. */
async function dumpFixture(file: string, t: TicketKeySet): Promise<void> {
  const dir = process.env.TKO_ARGOCD_TESTDATA_DIR;
  if (!dir) return;
  const { managedFields: _m, ...metadata } = t.metadata;
  await writeFile(join(dir, file), stringify({ ...t, metadata }));
}

describe('operator under GitOps: server-side apply, rotate-now from git, Flux requestedAt', () => {
  let baseline = 0;

  it('rotates on schedule and a re-apply of the same manifest afterwards is a no-op without conflict', async () => {
    await apply(manifest('10s'), ARGO);
    const ready = await untilStatus(sc.tks, 'web', 'Ready with 2/2', (t) => isReady(t, '2/2'));
    expect(cond(ready, 'Reconciling')?.status).toBe('False');
    expect(cond(ready, 'Stalled')?.status).toBe('False');
    await dumpFixture('healthy.yaml', ready);
    expect(await argoHealth(ready)).toEqual({ status: 'Healthy', message: cond(ready, 'Ready')?.message });

    // A scheduled rotation: the operator writes its Secret and status, events; never the spec.
    // (The first ring's promotion may count as a completed rotation too: wait for a new active key.)
    const rotated = await untilStatus(
      sc.tks,
      'web',
      'a scheduled rotation to a new active key, Ready again',
      (t) => t.status?.phase === 'Stable' && isReady(t, '2/2') && t.status.activeKey?.fingerprint !== ready.status?.activeKey?.fingerprint,
      60_000,
    );
    expect(await rotationsCompleted('web')).toBeGreaterThanOrEqual(1);

    const pre = await sc.tks.get('web');
    const again = await apply(manifest('10s'), ARGO);
    const now = await sc.tks.get('web');
    // A no-op apply: the applier's managedFields entry keeps its time (the server changed nothing).
    expect(applierEntry(now, ARGO)).toEqual(applierEntry(pre, ARGO));
    expect(again.metadata.generation).toBe(rotated.metadata.generation);
    expect(again.spec).toEqual(rotated.spec);
    expect(again.metadata.annotations ?? {}).toEqual(rotated.metadata.annotations ?? {});
    // Only the applier owns fields of the main resource; the operator owns status fields only.
    expect(mainResourceManagers(now)).toEqual([ARGO]);
    expect((now.metadata.managedFields ?? []).filter((m) => m.manager !== ARGO).every((m) => m.subresource === 'status')).toBe(true);
  }, 120_000);

  it('a longer interval from git takes effect; the pending scheduled slot is the last short one', async () => {
    const applied = await apply(manifest('1h'), ARGO);
    // The apply's answer: a new spec generation that the status does not reflect yet.
    if ((applied.status?.observedGeneration ?? 0) < (applied.metadata.generation ?? 0)) {
      expect(await argoHealth(applied)).toEqual({ status: 'Progressing', message: `Waiting for the ticket-key operator to observe generation ${applied.metadata.generation}` });
      await dumpFixture('progressing-generation-not-observed.yaml', applied);
    }
    await untilStatus(
      sc.tks,
      'web',
      'observed the new generation with the next rotation an hour out',
      (t) => t.status?.observedGeneration === applied.metadata.generation && isReady(t, '2/2') && Date.parse(t.status?.nextRotationTime ?? '') > Date.now() + 30 * 60_000,
      60_000,
    );
    baseline = await rotationsCompleted('web');
  }, 90_000);

  it('a rotate-now value committed to git rotates exactly once, however often it is re-applied', async () => {
    const before = await sc.tks.get('web');
    const v2 = manifest('1h', { [ANNOTATION_ROTATE_NOW]: '2026-12-06T01:00:00Z' });
    await apply(v2, ARGO);
    const rotated = await untilStatus(
      sc.tks,
      'web',
      'the rotate-now rotation complete',
      (t) => t.status?.activeKey?.fingerprint !== before.status?.activeKey?.fingerprint && t.status?.phase === 'Stable' && isReady(t, '2/2'),
      60_000,
    );
    // Re-applying v2 (every sync of an unchanged repository) changes nothing.
    const preApply = await sc.tks.get('web');
    const reapplied = await apply(v2, ARGO);
    expect(applierEntry(reapplied, ARGO)).toEqual(applierEntry(preApply, ARGO));
    // (Not resourceVersion: the operator may write status between the two reads.)
    expect(reapplied.metadata.generation).toBe(rotated.metadata.generation);
    expect(reapplied.metadata.annotations ?? {}).toEqual(preApply.metadata.annotations ?? {});
    await apply(v2, ARGO);

    // A later reconcile (forced through Flux's annotation) starts no second rotation.
    await annotate('web', ANNOTATION_FLUX_REQUESTED_AT, '2026-12-06T01:05:00.000000001Z');
    const acked = await untilStatus(sc.tks, 'web', 'requestedAt acknowledged', (t) => t.status?.lastHandledReconcileAt === '2026-12-06T01:05:00.000000001Z');
    expect(await rotationsCompleted('web')).toBe(baseline + 1);
    expect(acked.status?.activeKey?.fingerprint).toBe(rotated.status?.activeKey?.fingerprint);
    expect(acked.status?.keyGeneration).toBe(rotated.status?.keyGeneration);
    expect(acked.status?.retiredKeys?.some((k) => k.fingerprint === before.status?.activeKey?.fingerprint)).toBe(true);
  }, 90_000);

  it('Flux requestedAt: each new value is acknowledged verbatim after a reconcile, without a rotation', async () => {
    const before = await sc.tks.get('web');
    const rotations = await rotationsCompleted('web');
    await annotate('web', ANNOTATION_FLUX_REQUESTED_AT, 'flux-2');
    const acked = await untilStatus(sc.tks, 'web', 'flux-2 acknowledged', (t) => t.status?.lastHandledReconcileAt === 'flux-2');
    // An annotation is metadata: generation stays, the status still observes it.
    expect(acked.metadata.generation).toBe(before.metadata.generation);
    expect(acked.status?.observedGeneration).toBe(acked.metadata.generation);
    expect(acked.status?.activeKey?.fingerprint).toBe(before.status?.activeKey?.fingerprint);
    expect(await rotationsCompleted('web')).toBe(rotations);

    // Re-applying git's manifest (which does not carry the annotation) neither conflicts nor removes it.
    const v2 = manifest('1h', { [ANNOTATION_ROTATE_NOW]: '2026-12-06T01:00:00Z' });
    const reapplied = await apply(v2, ARGO);
    expect(reapplied.metadata.annotations?.[ANNOTATION_FLUX_REQUESTED_AT]).toBe('flux-2');
    expect(reapplied.metadata.resourceVersion).toBe(acked.metadata.resourceVersion);
    expect(mainResourceManagers(reapplied).sort()).toEqual([ARGO, 'kubectl-annotate']);
  }, 60_000);

  it('a rotate-now value changed on the live object and then put back from git is a new request each time (docs/gitops.md: pick one place)', async () => {
    const v2 = manifest('1h', { [ANNOTATION_ROTATE_NOW]: '2026-12-06T01:00:00Z' });
    const rotations = await rotationsCompleted('web');
    const fingerprint = async () => (await sc.tks.get('web')).status?.activeKey?.fingerprint;
    const start = await fingerprint();
    await annotate('web', ANNOTATION_ROTATE_NOW, 'by-hand');
    await eventually('the by-hand rotation', async () => ((await rotationsCompleted('web')) === rotations + 1 ? true : undefined));
    await untilStatus(sc.tks, 'web', 'Stable', (t) => t.status?.phase === 'Stable' && t.status.activeKey?.fingerprint !== start);
    // Without force the GitOps tool's apply conflicts with the hand-made change: nothing changes.
    expect((await applyRaw(v2, ARGO, false)).status).toBe(409);
    // With force (what selfHeal does), git's older value comes back: a value not handled last, so one more rotation.
    await apply(v2, ARGO, true);
    await eventually('the rotation for the restored value', async () => ((await rotationsCompleted('web')) === rotations + 2 ? true : undefined));
    await untilStatus(sc.tks, 'web', 'Ready 2/2', (t) => t.status?.phase === 'Stable' && isReady(t, '2/2'));
  }, 60_000);

  it('kstatus and Argo CD health: Reconciling while no pod is selected yet, Stalled when every pod is left to an older set, Suspended, Degraded on a failed push', async () => {
    // No pod selected yet (a set applied before its Deployment): Reconciling, Argo CD Progressing.
    await apply(ticketKeySet('early', { selector: { matchLabels: { app: 'not-yet' } }, agent: { port: PORT } }), FLUX);
    const early = await untilStatus(sc.tks, 'early', 'NoPods', (t) => cond(t, 'Ready')?.reason === 'NoPods');
    expect(cond(early, 'Reconciling')).toMatchObject({ status: 'True', reason: 'NoPods' });
    expect(cond(early, 'Stalled')?.status).toBe('False');
    expect(await argoHealth(early)).toEqual({ status: 'Progressing', message: `NoPods: ${cond(early, 'Ready')?.message}` });
    await dumpFixture('progressing-no-pods.yaml', early);

    // A newer set selecting only pods the older `web` keeps: nothing to do until a selector changes.
    await apply(ticketKeySet('late', { selector: { matchLabels: { app: 'gitops' } }, agent: { port: PORT } }), FLUX);
    const late = await untilStatus(sc.tks, 'late', 'Stalled', (t) => cond(t, 'Stalled')?.status === 'True');
    expect(cond(late, 'Stalled')?.reason).toBe('SelectorConflict');
    expect(cond(late, 'Reconciling')?.status).toBe('False');
    expect(await argoHealth(late)).toEqual({ status: 'Degraded', message: `Stalled (SelectorConflict): ${cond(late, 'Stalled')?.message}` });
    await dumpFixture('degraded-stalled.yaml', late);

    // Suspended rotation with its pod converged.
    await apply(ticketKeySet('paused', { selector: { matchLabels: { app: 'paused' } }, rotation: { suspend: true }, agent: { port: PORT } }), ARGO);
    const paused = await untilStatus(sc.tks, 'paused', 'Ready 1/1', (t) => isReady(t, '1/1'));
    expect(cond(paused, 'Progressing')?.reason).toBe('Suspended');
    expect(await argoHealth(paused)).toEqual({ status: 'Suspended', message: `Rotation is suspended (spec.rotation.suspend); ${cond(paused, 'Ready')?.message}` });
    await dumpFixture('suspended.yaml', paused);

    // A rotation whose only pod's agent went away: the push fails, Degraded, Argo CD Degraded.
    await apply(ticketKeySet('flaky', { selector: { matchLabels: { app: 'flaky' } }, agent: { port: PORT } }), ARGO);
    await untilStatus(sc.tks, 'flaky', 'Ready 1/1', (t) => isReady(t, '1/1'));
    await sc.fleet.stopAgent('ats-f');
    await annotate('flaky', ANNOTATION_ROTATE_NOW, 'now');
    const flaky = await untilStatus(sc.tks, 'flaky', 'Degraded', (t) => cond(t, 'Degraded')?.status === 'True');
    const degraded = cond(flaky, 'Degraded')!;
    expect(cond(flaky, 'Reconciling')?.status).toBe('True');
    expect(cond(flaky, 'Stalled')?.status).toBe('False');
    expect(await argoHealth(flaky)).toEqual({ status: 'Degraded', message: `${degraded.reason}: ${degraded.message}` });
    await dumpFixture('degraded-push-failed.yaml', flaky);
  }, 90_000);
});
