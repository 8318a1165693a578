// The state machine and the policy with rotation.schedule: scheduled slots drive rotations
// (one catch-up at most, windows gate them, rotate-now ignores windows), nextRotationTime follows
// the schedule, and ticketLifetime/retention follow the schedule's gaps. Fixed clocks throughout.
import { describe, expect, it } from '@jest/globals';
import type { PodObservation } from '../../../src/core/observations.ts';
import { PolicyError, policyProblems, policyWarnings, resolvePolicy, retiredKeysNeeded, type RotationPolicy } from '../../../src/core/policy.ts';
import { ringFingerprintOf } from '../../../src/core/ring.ts';
import { initialState, ringMaterial, type RotationState } from '../../../src/core/state.ts';
import { step } from '../../../src/core/step.ts';
import { buildStatus } from '../../../src/operator/reconciler/status.ts';
import { decideScheduledRotation } from '../../../src/core/schedule/index.ts';
import { seededRandom } from '../../fixtures/keys.ts';
import { HOUR, MIN, SEC, ofKind, pod } from './support.ts';

const T = (iso: string): number => Date.parse(iso);
const DAY = 24 * HOUR;
const NOW = T('2026-01-05T00:00:00Z'); // a Monday

const holding = (s: RotationState, ...pods: PodObservation[]): PodObservation[] =>
  pods.map((p) => ({ ...p, acked: { generation: s.generation, ringFingerprint: ringFingerprintOf(ringMaterial(s)) }, error: undefined }));

/** Steps until Stable again with every pod acknowledging (a rotation completes at `now`). */
function driver(pol: RotationPolicy) {
  const random = seededRandom('schedule');
  const names = ['a', 'b'];
  const settle = (state: RotationState, now: number): RotationState => {
    let s = state;
    for (let i = 0; i < 4 && (i === 0 || s.phase !== 'Stable'); i++) s = step(s, { pods: holding(s, ...names.map((n) => pod(n))) }, pol, now, { random }).state;
    return s;
  };
  const first = step(initialState(), { pods: names.map((n) => pod(n)) }, pol, NOW, { random }).state;
  return { settle, first: settle(first, NOW) };
}

describe('resolvePolicy with a schedule', () => {
  it('takes the schedule, zone, windows and deadline, and defaults ticketLifetime to the longest gap', () => {
    const p = resolvePolicy({ schedule: '0 3 * * *', timeZone: 'Europe/Berlin', windows: [{ schedule: '0 2 * * *', duration: '2h' }], startingDeadline: '1h', now: NOW });
    expect(p.schedule?.schedule.expression).toBe('0 3 * * *');
    expect(p.schedule?.schedule.timeZone).toBe('Europe/Berlin');
    // Windows inherit the rotation's zone.
    expect(p.schedule?.windows[0]?.schedule.timeZone).toBe('Europe/Berlin');
    expect(p.schedule?.windows[0]?.durationMs).toBe(2 * HOUR);
    expect(p.schedule?.startingDeadlineMs).toBe(HOUR);
    // On the fall-back night the 2-hour window opened at 02:00 CEST closes at 03:00 CET, just as
    // that day's 03:00 slot comes: it waits for the next day's window (02:00 CET), 48 h after the
    // last rotation, and that day's own 03:00 slot follows an hour later.
    expect(p.intervalMs).toBe(48 * HOUR);
    expect(p.shortestGapMs).toBe(HOUR);
    expect(p.ticketLifetimeMs).toBe(48 * HOUR);
    // Without the window: across the year's DST changes the longest gap is 25 h, the shortest 23 h.
    const plain = resolvePolicy({ schedule: '0 3 * * *', timeZone: 'Europe/Berlin', now: NOW });
    expect([plain.intervalMs, plain.shortestGapMs, plain.ticketLifetimeMs]).toEqual([25 * HOUR, 23 * HOUR, 25 * HOUR]);
  });

  it('caps the default ticketLifetime at 168h for sparse schedules (monthly), and keeps an explicit one', () => {
    expect(resolvePolicy({ schedule: '@monthly', now: NOW }).ticketLifetimeMs).toBe(168 * HOUR);
    expect(resolvePolicy({ schedule: '@monthly', ticketLifetime: '2h', now: NOW }).ticketLifetimeMs).toBe(2 * HOUR);
  });

  it('a weekday schedule: lifetime covers the weekend gap, retained keys count the shortest gap', () => {
    const p = resolvePolicy({ schedule: '0 9 * * 1-5', now: NOW });
    expect(p.ticketLifetimeMs).toBe(3 * DAY);
    expect(retiredKeysNeeded(p)).toBe(Math.ceil((3 * DAY + 5 * MIN) / DAY));
  });

  it('windows that delay rotations lengthen the default ticketLifetime to the gaps they let through', () => {
    // Daily at noon, windows on Monday and Thursday 02:00: rotations every 3 and 4 days.
    const p = resolvePolicy({ schedule: '0 12 * * *', windows: [{ schedule: '0 2 * * 1,4', duration: '2h' }], now: NOW });
    expect(p.intervalMs).toBe(4 * DAY);
    expect(p.shortestGapMs).toBe(3 * DAY);
    expect(p.ticketLifetimeMs).toBe(4 * DAY);
  });

  it('a dense schedule passes although promotion.timeout exceeds its gaps, with a warning', () => {
    const p = resolvePolicy({ schedule: '* * * * *', now: NOW });
    expect(policyProblems(p)).toEqual([]);
    expect(policyWarnings(p).join('\n')).toMatch(/promotion\.timeout \(5m\) is not shorter than the shortest gap between scheduled rotations \(1m\)/);
  });

  it.each([
    [{ schedule: '61 * * * *' }, /rotation\.schedule "61 \* \* \* \*": Invalid value for minute: 61/],
    [{ schedule: '0 0 31 2 *' }, /never fires/],
    [{ schedule: '@daily', timeZone: 'Mars/Base' }, /rotation\.timeZone "Mars\/Base" is not a known IANA time zone/],
    [{ schedule: '@daily', windows: [{ schedule: '0 25 * * *', duration: '1h' }] }, /rotation\.windows\[0\]\.schedule "0 25 \* \* \*"/],
    [{ schedule: '@daily', windows: [{ schedule: '@daily', timeZone: 'Europe/Nowhere', duration: '1h' }] }, /rotation\.windows\[0\]\.timeZone "Europe\/Nowhere"/],
    [{ schedule: '@daily', interval: '1h' }, /mutually exclusive/],
  ])('refuses %j with reason InvalidSchedule', (input, message) => {
    let err: unknown;
    try {
      resolvePolicy({ ...input, now: NOW });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).reason).toBe('InvalidSchedule');
    expect((err as PolicyError).message).toMatch(message);
  });
});

describe('step with a schedule', () => {
  it('the first key sets nextRotationTime to the first slot; the rotation happens at the slot and not before', () => {
    const pol = resolvePolicy({ schedule: '0 3 * * *', timeZone: 'UTC', now: NOW });
    const { settle, first } = driver(pol);
    expect(first.nextRotationTime).toBe(T('2026-01-05T03:00:00Z'));
    const before = settle(first, T('2026-01-05T02:59:59Z'));
    expect(before.generation).toBe(first.generation);
    const at = settle(before, T('2026-01-05T03:00:00Z'));
    expect(at.generation).toBeGreaterThan(first.generation);
    expect(at.lastRotationTime).toBe(T('2026-01-05T03:00:00Z'));
    expect(at.nextRotationTime).toBe(T('2026-01-06T03:00:00Z'));
  });

  it('after five missed days: one catch-up rotation, then nothing until the next slot', () => {
    const pol = resolvePolicy({ schedule: '0 3 * * *', now: NOW });
    const { settle, first } = driver(pol);
    const later = T('2026-01-10T12:00:00Z');
    const caught = settle(first, later);
    expect(caught.lastRotationTime).toBe(later);
    const gen = caught.generation;
    let s = caught;
    for (let t = later + MIN; t < T('2026-01-11T03:00:00Z'); t += 30 * MIN) s = settle(s, t);
    expect(s.generation).toBe(gen);
    expect(s.nextRotationTime).toBe(T('2026-01-11T03:00:00Z'));
  });

  it('a slot outside the window waits for the opening; rotate-now ignores the window', () => {
    const pol = resolvePolicy({ schedule: '0 12 * * *', windows: [{ schedule: '0 2 * * *', duration: '2h' }], now: NOW });
    const { settle, first } = driver(pol);
    // Created 00:00 Monday: the 12:00 slot waits for Tuesday's 02:00 window.
    expect(first.nextRotationTime).toBe(T('2026-01-06T02:00:00Z'));
    const afterSlot = settle(first, T('2026-01-05T13:00:00Z'));
    expect(afterSlot.generation).toBe(first.generation);
    expect(afterSlot.nextRotationTime).toBe(T('2026-01-06T02:00:00Z'));
    const inWindow = settle(afterSlot, T('2026-01-06T02:00:30Z'));
    expect(inWindow.generation).toBeGreaterThan(first.generation);

    // Outside the window, a rotate-now token rotates at once.
    const now = T('2026-01-05T13:00:00Z') + SEC;
    const r = step(afterSlot, { pods: holding(afterSlot, pod('a'), pod('b')) }, { ...pol, rotateNowToken: 'go' }, now, { random: seededRandom(3) });
    expect(r.state.phase).toBe('Staging');
    expect(ofKind(r.actions, 'push')).toHaveLength(1);
  });

  it('status says a due slot waits for the window, with the window state', () => {
    const pol = resolvePolicy({ schedule: '0 12 * * *', windows: [{ schedule: '0 2 * * *', duration: '2h' }], now: NOW });
    const { first } = driver(pol);
    const now = T('2026-01-05T13:00:00Z');
    const status = buildStatus({
      state: first,
      conditions: [],
      pods: [],
      previous: undefined,
      observedGeneration: 1,
      secretName: 'x-ticket-keys',
      suspend: false,
      now,
      schedule: { decision: decideScheduledRotation(pol.schedule!, first.lastRotationTime!, now), hasWindows: true },
    });
    expect(status.scheduledRotation).toEqual({
      state: 'WaitingForWindow',
      slot: '2026-01-05T12:00:00.000Z',
      message: 'the slot at 2026-01-05T12:00:00.000Z is due outside every maintenance window; it waits for the window opening at 2026-01-06T02:00:00.000Z',
    });
    expect(status.rotationWindow).toEqual({ open: false, opensAt: '2026-01-06T02:00:00.000Z', closesAt: '2026-01-06T04:00:00.000Z' });
  });

  it('suspended through slots, resumed: one catch-up rotation', () => {
    const pol = resolvePolicy({ schedule: '0 3 * * *', now: NOW });
    const { settle, first } = driver(pol);
    let s = first;
    const suspended = { ...pol, suspend: true };
    const random = seededRandom(9);
    for (let t = NOW + HOUR; t < NOW + 3 * DAY; t += 6 * HOUR) s = step(s, { pods: holding(s, pod('a'), pod('b')) }, suspended, t, { random }).state;
    expect(s.generation).toBe(first.generation);
    const resumed = settle(s, NOW + 3 * DAY);
    expect(resumed.generation).toBe(first.generation + 2); // staged, then promoted: one rotation
    expect(settle(resumed, NOW + 3 * DAY + HOUR).generation).toBe(resumed.generation);
  });

  it('retired keys are kept ticketLifetime + promotion.timeout from their own retirement, whatever the gap', () => {
    const pol = resolvePolicy({ schedule: '0 9 * * 1-5', now: NOW });
    const { settle, first } = driver(pol);
    const friday = settle(first, T('2026-01-09T09:00:00Z'));
    const retired = friday.keys.filter((k) => k.state === 'retired');
    expect(retired.length).toBeGreaterThan(0);
    for (const k of retired) expect(k.expiresAt).toBe(k.retiredAt! + 3 * DAY + 5 * MIN);
    // Nothing rotates over the weekend; the Friday key still decrypts on Monday morning.
    const monday = settle(friday, T('2026-01-12T08:59:00Z'));
    expect(monday.generation).toBe(friday.generation);
    expect(monday.keys.filter((k) => k.state === 'retired').map((k) => k.material.fingerprint)).toEqual(retired.map((k) => k.material.fingerprint));
  });
});

describe('withSpecDefaults with a schedule', () => {
  it('defaults the interval only when rotation is absent, as the API server does', async () => {
    const { withSpecDefaults } = await import('../../../src/api/spec-defaults.ts');
    const selector = { matchLabels: { app: 'ats' } };
    expect(withSpecDefaults({ selector, rotation: { schedule: '@daily' } }).rotation).toEqual({ schedule: '@daily', suspend: false });
    expect(withSpecDefaults({ selector }).rotation).toEqual({ interval: '12h', suspend: false });
    expect(withSpecDefaults({ selector, rotation: { suspend: true } }).rotation).toEqual({ suspend: true });
  });
});
