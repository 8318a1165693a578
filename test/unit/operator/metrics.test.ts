import { describe, expect, it } from '@jest/globals';
import { register as globalRegistry } from 'prom-client';
import { OperatorMetrics } from '../../../src/operator/metrics.ts';
import { FakeClock } from './runtime/fake-clock.ts';

describe('OperatorMetrics', () => {
  it('uses its own registry, not prom-client\'s global one', async () => {
    const m = new OperatorMetrics();
    m.ticketKeys.recordRotation('success');
    expect(await m.registry.metrics()).toContain('ticketkeys_rotations_total{result="success"} 1');
    expect(await globalRegistry.metrics()).not.toContain('ticketkeys_');
  });

  it('declares the work-queue, reconcile and domain metric families', async () => {
    const names = new OperatorMetrics().registry.getMetricsAsArray().map((x) => x.name).sort();
    expect(names).toEqual(
      [
        'controller_runtime_active_workers',
        'controller_runtime_max_concurrent_reconciles',
        'controller_runtime_reconcile_errors_total',
        'controller_runtime_reconcile_time_seconds',
        'controller_runtime_reconcile_total',
        'ticketkeys_active_key_age_seconds',
        'ticketkeys_agent_pki_errors_total',
        'ticketkeys_agent_pki_issued_total',
        'ticketkeys_last_rotation_timestamp_seconds',
        'ticketkeys_next_rotation_timestamp_seconds',
        'ticketkeys_pod_reports_rejected_total',
        'ticketkeys_pod_session_sharing_sessions',
        'ticketkeys_pod_tls_tickets_not_found',
        'ticketkeys_pod_tls_tickets_verified_old_key',
        'ticketkeys_pods_converged',
        'ticketkeys_pods_total',
        'ticketkeys_push_duration_seconds',
        'ticketkeys_pushes_total',
        'ticketkeys_rotation_promote_duration_seconds',
        'ticketkeys_rotation_stage_duration_seconds',
        'ticketkeys_rotations_total',
        'ticketkeys_session_sharing_config_pushes_total',
        'workqueue_adds_total',
        'workqueue_depth',
        'workqueue_longest_running_processor_seconds',
        'workqueue_queue_duration_seconds',
        'workqueue_retries_total',
        'workqueue_unfinished_work_seconds',
        'workqueue_work_duration_seconds',
      ].sort(),
    );
  });

  it('exposes per-TicketKeySet gauges and computes the active key age at scrape time', async () => {
    const clock = new FakeClock();
    const m = new OperatorMetrics({ clock });
    const ref = { namespace: 'edge', name: 'web' };
    m.ticketKeys.observeTicketKeySet(ref, {
      lastRotationTime: clock.now() - 60_000,
      nextRotationTime: clock.now() + 3_600_000,
      activeKeyCreatedAt: clock.now() - 90_000,
      podsConverged: 2,
      podsTotal: 3,
    });
    await clock.advance(10_000);
    const text = await m.registry.metrics();
    const labels = '{namespace="edge",name="web"}';
    expect(text).toContain(`ticketkeys_active_key_age_seconds${labels} 100`);
    expect(text).toContain(`ticketkeys_last_rotation_timestamp_seconds${labels} ${(clock.now() - 70_000) / 1000}`);
    expect(text).toContain(`ticketkeys_next_rotation_timestamp_seconds${labels} ${(clock.now() + 3_590_000) / 1000}`);
    expect(text).toContain(`ticketkeys_pods_converged${labels} 2`);
    expect(text).toContain(`ticketkeys_pods_total${labels} 3`);
  });

  it('drops every series of a forgotten TicketKeySet', async () => {
    const m = new OperatorMetrics();
    const ref = { namespace: 'edge', name: 'web' };
    m.ticketKeys.observeTicketKeySet(ref, { lastRotationTime: 1, nextRotationTime: 2, activeKeyCreatedAt: 3, podsConverged: 1, podsTotal: 1 });
    m.ticketKeys.recordStageDuration(ref, 0.5);
    m.ticketKeys.recordPromoteDuration(ref, 0.7);
    m.ticketKeys.observePodTls(ref, ['p'], new Map([['p', { ticketsNotFound: 1, ticketsVerifiedOldKey: 2 }]]));
    expect(await m.registry.metrics()).toContain('ticketkeys_pod_tls_tickets_not_found{namespace="edge",name="web",pod="p"} 1');
    m.ticketKeys.forgetTicketKeySet(ref);
    expect(await m.registry.metrics()).not.toContain('name="web"');
  });

  it('exposes each pod\'s session-sharing counters by direction, keeps an unread pod\'s last values, and drops a pod that left the targets', async () => {
    const m = new OperatorMetrics();
    const ref = { namespace: 'edge', name: 'web' };
    const counters = (n: number) => ({ counters: { exported: n, sent: n + 1, received: n + 2, inserted: n + 3, dropped: n + 4, refused: n + 5 } });
    m.ticketKeys.observePodSessionSharing(ref, ['a', 'b'], new Map([['a', counters(10)], ['b', counters(20)]]));
    let text = await m.registry.metrics();
    const a = (direction: string) => `ticketkeys_pod_session_sharing_sessions{namespace="edge",ticketkeyset="web",pod="a",direction="${direction}"}`;
    expect(text).toContain(`${a('exported')} 10`);
    expect(text).toContain(`${a('sent')} 11`);
    expect(text).toContain(`${a('received')} 12`);
    expect(text).toContain(`${a('inserted')} 13`);
    expect(text).toContain(`${a('dropped')} 14`);
    expect(text).toContain(`${a('refused')} 15`);
    expect(text).toContain('ticketkeys_pod_session_sharing_sessions{namespace="edge",ticketkeyset="web",pod="b",direction="exported"} 20');
    // a not read this time (keeps its last values); b gone from the targets; c answered without a report.
    m.ticketKeys.observePodSessionSharing(ref, ['a', 'c'], new Map([['c', undefined]]));
    text = await m.registry.metrics();
    expect(text).toContain(`${a('exported')} 10`);
    expect(text).not.toContain('pod="b"');
    expect(text).not.toContain('pod="c"');
    m.ticketKeys.forgetTicketKeySet(ref);
    expect(await m.registry.metrics()).not.toContain('ticketkeyset="web"');
  });

  it('counts session-sharing config pushes by result', async () => {
    const m = new OperatorMetrics();
    m.ticketKeys.recordSessionSharingPush('success');
    m.ticketKeys.recordSessionSharingPush('error');
    m.ticketKeys.recordSessionSharingPush('error');
    const text = await m.registry.metrics();
    expect(text).toContain('ticketkeys_session_sharing_config_pushes_total{result="success"} 1');
    expect(text).toContain('ticketkeys_session_sharing_config_pushes_total{result="error"} 2');
  });

  it('counts pushes by result with a latency histogram', async () => {
    const m = new OperatorMetrics();
    m.ticketKeys.recordPush('success', 0.02);
    m.ticketKeys.recordPush('success', 0.04);
    m.ticketKeys.recordPush('timeout', 5);
    const text = await m.registry.metrics();
    expect(text).toContain('ticketkeys_pushes_total{result="success"} 2');
    expect(text).toContain('ticketkeys_pushes_total{result="timeout"} 1');
    expect(text).toContain('ticketkeys_push_duration_seconds_count{result="success"} 2');
    expect(text).toContain('ticketkeys_push_duration_seconds_bucket{le="0.05",result="success"} 2');
  });
});
