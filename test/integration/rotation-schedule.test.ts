// Calendar schedules on the real API server and a real `tko operator`: malformed schedules,
// zones and windows are refused at admission with readable messages (CEL), what CEL cannot judge
// (out-of-range fields, unknown zones, schedules that never fire) is reported by the operator
// through the Ready condition (reason InvalidSchedule), and a real `* * * * *` schedule gated by
// a one-minute window in Asia/Kolkata (UTC+05:30) rotates inside the window only, while a second
// set, suspended through several slots and then resumed, catches up with exactly one rotation.
import { describe, expect, it } from '@jest/globals';
import type { TicketKeySet } from '../../src/api/index.ts';
import { eventually, statusMessage, statusOf } from '../helpers/kube.ts';
import { isReady, untilStatus, useOperatorScenario } from '../helpers/operator-scenario.ts';
import { ticketKeySet } from '../../dev/ticket-key-sets.ts';

const PORT = 19650;
const PODS = ['sched-0', 'sched-1'];
const sc = useOperatorScenario('rotation-schedule', {
  port: PORT,
  pods: [...PODS.map((name, i) => ({ name, ip: `127.0.150.${1 + i}`, labels: { app: 'sched' } })), { name: 'paused-0', ip: '127.0.150.3', labels: { app: 'paused' } }],
});

const selector = { matchLabels: { app: 'sched' } };
const MIN = 60_000;

interface Refused {
  title: string;
  rotation: Record<string, unknown>;
  /** Every fragment must appear in the API server's message. */
  message: string[];
}

const refused: Refused[] = [
  {
    title: 'six fields (seconds)',
    rotation: { schedule: '0 0 3 * * *' },
    message: ['spec.rotation.schedule', 'rotation.schedule must have exactly 5 fields (minute hour day-of-month month day-of-week)', 'seconds are not supported'],
  },
  { title: 'four fields', rotation: { schedule: '0 3 * *' }, message: ['spec.rotation.schedule', 'must have exactly 5 fields'] },
  { title: 'an unknown macro', rotation: { schedule: '@reboot' }, message: ['spec.rotation.schedule', 'rotation.schedule macro must be one of @yearly'] },
  { title: 'characters no cron field has', rotation: { schedule: '0 3 * * $(rm)' }, message: ['spec.rotation.schedule', 'may only use digits, names (JAN, MON)'] },
  {
    title: 'interval and schedule together',
    rotation: { interval: '1h', schedule: '@daily' },
    message: ['spec.rotation', 'rotation.interval and rotation.schedule are mutually exclusive: set exactly one of them'],
  },
  {
    title: 'a time zone without a schedule',
    rotation: { interval: '1h', timeZone: 'Europe/Berlin' },
    message: ['spec.rotation', 'rotation.timeZone, rotation.windows and rotation.startingDeadline apply to rotation.schedule only'],
  },
  {
    title: 'a time zone that is not an IANA name',
    rotation: { schedule: '@daily', timeZone: 'Central European Time' },
    message: ['spec.rotation.timeZone', 'rotation.timeZone must be an IANA time zone name such as UTC, Europe/Berlin'],
  },
  {
    title: 'nine windows',
    rotation: { schedule: '@daily', windows: Array.from({ length: 9 }, () => ({ schedule: '@hourly', duration: '5m' })) },
    message: ['spec.rotation.windows', 'must have at most 8 items'],
  },
  {
    title: 'a window shorter than a minute',
    rotation: { schedule: '@daily', windows: [{ schedule: '0 2 * * *', duration: '30s' }] },
    message: ['spec.rotation.windows[0].duration', 'rotation.windows[].duration must be at least 1m'],
  },
  { title: 'a window without a duration', rotation: { schedule: '@daily', windows: [{ schedule: '0 2 * * *' }] }, message: ['spec.rotation.windows[0].duration', 'Required value'] },
  {
    title: 'a window with six fields',
    rotation: { schedule: '@daily', windows: [{ schedule: '0 0 2 * * *', duration: '1h' }] },
    message: ['spec.rotation.windows[0].schedule', 'rotation.windows[].schedule must have exactly 5 fields'],
  },
  {
    title: 'a starting deadline below 10s',
    rotation: { schedule: '@daily', startingDeadline: '5s' },
    message: ['spec.rotation.startingDeadline', 'rotation.startingDeadline must be at least 10s'],
  },
];

describe('admission: malformed schedules, zones and windows', () => {
  it.each(refused.map((c) => [c.title, c] as const))('refuses %s with a readable message', async (_title, c) => {
    const err = await sc.tks.create(ticketKeySet('refused', { selector, rotation: c.rotation })).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(422);
    const message = statusMessage(err);
    for (const fragment of c.message) expect(message).toContain(fragment);
  });

  it('admits a schedule with zone, windows and deadline, and stores no interval next to it', async () => {
    const rotation = { schedule: '30 2 * * 1-5', timeZone: 'Europe/Berlin', windows: [{ schedule: '0 2 * * *', duration: '2h' }], startingDeadline: '30m' };
    const created = await sc.tks.create(ticketKeySet('admitted', { selector: { matchLabels: { app: 'nobody' } }, rotation }));
    expect(created.spec.rotation).toEqual({ ...rotation, suspend: false });
    await sc.tks.delete('admitted');
  });
});

describe('the operator reports what CEL cannot judge', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['an out-of-range minute', { schedule: '61 * * * *' }, 'rotation.schedule "61 * * * *": Invalid value for minute: 61'],
    ['an unknown IANA zone', { schedule: '@daily', timeZone: 'Mars/Olympus_Mons' }, 'rotation.timeZone "Mars/Olympus_Mons" is not a known IANA time zone'],
    ['a schedule that never fires', { schedule: '0 0 31 2 *' }, 'rotation.schedule "0 0 31 2 *" never fires'],
    ['a window in an unknown zone', { schedule: '@daily', windows: [{ schedule: '0 2 * * *', timeZone: 'Europe/Atlantis', duration: '1h' }] }, 'rotation.windows[0].timeZone "Europe/Atlantis" is not a known IANA time zone'],
  ];
  it.each(cases)('%s: Ready=False, reason InvalidSchedule', async (_title, rotation, message) => {
    const name = `bad-${cases.findIndex((c) => c[2] === message)}`;
    await sc.tks.create(ticketKeySet(name, { selector: { matchLabels: { app: 'nobody' } }, rotation }));
    const t = await untilStatus(sc.tks, name, 'InvalidSchedule', (x) => x.status?.conditions?.some((c) => c.type === 'Ready' && c.reason === 'InvalidSchedule') ?? false);
    const ready = t.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('False');
    expect(ready?.message).toContain(message);
    // Nothing was generated for a set the operator cannot schedule.
    expect(t.status?.activeKey).toBeUndefined();
    await sc.tks.delete(name);
  });
});

describe('a real schedule gated by a window', () => {
  it(
    'rotates on `* * * * *` only inside a one-minute window (Asia/Kolkata), and says so while it waits; a suspended set catches up once',
    async () => {
      // Far enough from a minute boundary that the first ring is in place before the next slot.
      while (new Date().getUTCSeconds() > 40) await new Promise((r) => setTimeout(r, 1000));
      const start = Date.now();
      const slot1 = Math.ceil(start / MIN) * MIN; // the next slot: outside the window
      const opens = slot1 + MIN; // the window: one minute, the one after
      // Kolkata is UTC+05:30: its wall-clock minute is the UTC minute + 30.
      const kolkataMinute = (new Date(opens).getUTCMinutes() + 30) % 60;
      await sc.tks.create(
        ticketKeySet('web', {
          selector,
          rotation: { schedule: '* * * * *', timeZone: 'Asia/Kolkata', windows: [{ schedule: `${kolkataMinute} * * * *`, duration: '1m' }] },
          promotion: { timeout: '20s' },
          agent: { port: PORT },
        }),
      );
      const first = await untilStatus(sc.tks, 'web', 'first ring on 2/2', (t) => isReady(t, '2/2')).catch(async (e: unknown) => {
        console.log(JSON.stringify((await sc.tks.get('web')).status, null, 1));
        throw e;
      });
      const firstActive = first.status?.activeKey?.fingerprint;
      // The second set: suspended from the start, so every slot of this test is missed.
      await sc.tks.create(
        ticketKeySet('paused', { selector: { matchLabels: { app: 'paused' } }, rotation: { schedule: '* * * * *', suspend: true }, promotion: { timeout: '20s' }, agent: { port: PORT } }),
      );
      const pausedFirst = await untilStatus(sc.tks, 'paused', 'paused: first ring on 1/1', (t) => isReady(t, '1/1'));
      expect(first.status?.nextRotationTime).toBe(new Date(opens).toISOString());
      expect(first.status?.rotationWindow).toEqual({ open: false, opensAt: new Date(opens).toISOString(), closesAt: new Date(opens + MIN).toISOString() });

      // The first slot passes outside the window: no rotation, and the status says it waits.
      await new Promise((r) => setTimeout(r, Math.max(0, slot1 + 5_000 - Date.now())));
      await sc.tks.mergePatch('web', { metadata: { annotations: { 'example.com/poke': 'status' } } }); // any update reconciles
      const waiting = await untilStatus(sc.tks, 'web', 'WaitingForWindow', (t) => t.status?.scheduledRotation?.state === 'WaitingForWindow');
      expect(waiting.status?.scheduledRotation?.slot).toBe(new Date(slot1).toISOString());
      expect(waiting.status?.scheduledRotation?.message).toContain(`waits for the window opening at ${new Date(opens).toISOString()}`);
      expect(waiting.status?.activeKey?.fingerprint).toBe(firstActive);

      // Inside the window: exactly one rotation, promoted to both pods.
      const rotated = await untilStatus(
        sc.tks,
        'web',
        'rotated in the window',
        (t) => t.status?.activeKey?.fingerprint !== firstActive && isReady(t, '2/2'),
        2 * MIN,
      );
      const at = Date.parse(rotated.status?.lastRotationTime ?? '');
      expect(at).toBeGreaterThanOrEqual(opens);
      expect(at).toBeLessThan(opens + MIN);
      expect(rotated.status?.retiredKeys?.map((k) => k.fingerprint)).toContain(firstActive);

      // After the window closes, the next rotation waits for the window an hour later.
      await new Promise((r) => setTimeout(r, Math.max(0, opens + MIN + 5_000 - Date.now())));
      await sc.tks.mergePatch('web', { metadata: { annotations: { 'example.com/poke': 'after' } } });
      const after: TicketKeySet = await eventually('window closed in status', async () => {
        const t = await sc.tks.get('web');
        return t.status?.rotationWindow?.open === false && t.status.scheduledRotation?.state === 'WaitingForWindow' ? t : undefined;
      });
      expect(after.status?.activeKey?.fingerprint).toBe(rotated.status?.activeKey?.fingerprint);
      expect(after.status?.nextRotationTime).toBe(new Date(opens + 60 * MIN).toISOString());

      // Suspended through at least two slots, then resumed early in a minute: one catch-up rotation, no burst.
      const paused = await sc.tks.get('paused');
      expect(paused.status?.activeKey?.fingerprint).toBe(pausedFirst.status?.activeKey?.fingerprint);
      expect(paused.status?.nextRotationTime).toBeUndefined(); // documented: absent while suspended
      const generation = paused.status?.keyGeneration ?? 0;
      const resumedAt = Date.now();
      const nextBoundary = Math.ceil(resumedAt / MIN) * MIN;
      await sc.tks.mergePatch('paused', { spec: { rotation: { suspend: false } } });
      const caught = await untilStatus(sc.tks, 'paused', 'paused: caught up', (t) => t.status?.activeKey?.fingerprint !== pausedFirst.status?.activeKey?.fingerprint && isReady(t, '1/1'));
      expect(Date.parse(caught.status?.lastRotationTime ?? '')).toBeGreaterThanOrEqual(resumedAt - 1000);
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(10_000, nextBoundary - 2_000 - Date.now()))));
      const settled = await sc.tks.get('paused');
      expect(Date.now()).toBeLessThan(nextBoundary); // the next slot has not come: any extra rotation would be a burst
      expect(settled.status?.keyGeneration).toBe(generation + 2); // staged (+1) and promoted (+1): one rotation
      expect(settled.status?.nextRotationTime).toBe(new Date(nextBoundary).toISOString());
    },
    5 * MIN,
  );
});
