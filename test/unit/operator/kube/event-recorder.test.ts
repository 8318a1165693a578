import { describe, expect, it } from '@jest/globals';
import nock from 'nock';
import { EventRecorder } from '../../../../src/operator/kube/event-recorder.ts';
import { FakeClock } from '../runtime/fake-clock.ts';
import { JSON_HEADERS, SERVER, fakeKubeConfig, status, useNock, type Json } from '../kube-fake.ts';
import { silentLogger } from '../logger.ts';

const COLLECTION = '/apis/events.k8s.io/v1/namespaces/edge/events';
const tks = { apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', metadata: { namespace: 'edge', name: 'web', uid: 'tks-uid', resourceVersion: '7' } };
const input = { type: 'Normal' as const, reason: 'KeyStaged' as const, action: 'Stage', note: 'staged key 1a2b3c (generation 8)' };

useNock();

function recorder(clock = new FakeClock()) {
  return { clock, rec: new EventRecorder({ kubeConfig: fakeKubeConfig(), reportingInstance: 'tko-0', clock, logger: silentLogger() }) };
}

function acceptCreates(bodies: Array<Json>) {
  nock(SERVER)
    .persist()
    .post(COLLECTION)
    .reply(async (req: Request) => {
      const b = (await req.json()) as Json;
      bodies.push(b);
      return [201, b, JSON_HEADERS];
    });
}

describe('EventRecorder', () => {
  it('creates an events.k8s.io/v1 Event regarding the object', async () => {
    const bodies: Array<Json> = [];
    acceptCreates(bodies);
    const { clock, rec } = recorder();
    await rec.record(tks, input);
    const e = bodies[0]!;
    expect(e).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      reportingController: 'ticketkeys.dev/operator',
      reportingInstance: 'tko-0',
      action: 'Stage',
      reason: 'KeyStaged',
      type: 'Normal',
      note: 'staged key 1a2b3c (generation 8)',
      regarding: { apiVersion: 'ticketkeys.dev/v1alpha1', kind: 'TicketKeySet', namespace: 'edge', name: 'web', uid: 'tks-uid', resourceVersion: '7' },
    });
    expect(e.metadata.name).toMatch(/^web\.[0-9a-f]+$/);
    expect(e.metadata.namespace).toBe('edge');
    expect(e.eventTime).toBe(new Date(clock.now()).toISOString().replace('Z', '000Z'));
    expect(e.series).toBeUndefined();
  });

  it('turns repeats within the window into a series on the first Event', async () => {
    const bodies: Array<Json> = [];
    acceptCreates(bodies);
    const patches: Array<{ name: string; body: Json; contentType: string | null }> = [];
    nock(SERVER)
      .persist()
      .patch(/\/apis\/events\.k8s\.io\/v1\/namespaces\/edge\/events\/.+/)
      .reply(async (req: Request) => {
        const body = await req.json();
        patches.push({ name: new URL(req.url).pathname.split('/').pop()!, body, contentType: req.headers.get('content-type') });
        return [200, { ...bodies[0], ...(body as object) }, JSON_HEADERS];
      });
    const { clock, rec } = recorder();
    await rec.record(tks, input);
    await clock.advance(60_000);
    await rec.record(tks, input);
    await clock.advance(60_000);
    await rec.record(tks, input);
    expect(bodies.length).toBe(1);
    expect(patches.map((p) => p.body.series.count)).toEqual([2, 3]);
    expect(patches[1]!.body.series.lastObservedTime).toBe(new Date(clock.now()).toISOString().replace('Z', '000Z'));
    expect(patches.every((p) => p.name === bodies[0]!.metadata.name && p.contentType === 'application/merge-patch+json')).toBe(true);
  });

  it('starts a new Event when the repeat comes after the window, or for a different note', async () => {
    const bodies: Array<Json> = [];
    acceptCreates(bodies);
    const { clock, rec } = recorder();
    await rec.record(tks, input);
    await rec.record(tks, { ...input, note: 'staged key ffff (generation 9)' });
    await clock.advance(7 * 60_000);
    await rec.record(tks, input);
    expect(bodies.length).toBe(3);
  });

  it('creates a fresh Event when the series Event has expired', async () => {
    const bodies: Array<Json> = [];
    acceptCreates(bodies);
    nock(SERVER).patch(/events\/.+/).reply(404, status(404, 'NotFound'), JSON_HEADERS);
    const { rec } = recorder();
    await rec.record(tks, input);
    await rec.record(tks, input);
    expect(bodies.length).toBe(2);
  });

  it('never throws: a failed write resolves undefined', async () => {
    nock(SERVER).post(COLLECTION).reply(403, status(403, 'Forbidden'), JSON_HEADERS);
    const { rec } = recorder();
    await expect(rec.record(tks, { ...input, type: 'Warning' })).resolves.toBeUndefined();
  });

  it('truncates notes to the 1 KiB API limit', async () => {
    const bodies: Array<Json> = [];
    acceptCreates(bodies);
    const { rec } = recorder();
    await rec.record(tks, { ...input, note: 'é'.repeat(2000) });
    const note = bodies[0]!.note as string;
    expect(Buffer.byteLength(note, 'utf8')).toBeLessThanOrEqual(1024);
    expect(note.endsWith('...')).toBe(true);
  });
});
