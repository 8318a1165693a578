// Work-queue metrics with client-go/controller-runtime names, one set per Registry, labelled by
// queue `name`. Unfinished-work gauges are computed at scrape time from the queues themselves.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** controller-runtime's ExponentialBuckets(10e-9, 10, 12): 10 ns … 1000 s. */
const DURATION_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

/** What a WorkQueue reports while it runs. */
export interface QueueMetricsSink {
  added(): void;
  depth(n: number): void;
  /** Seconds a key waited in the queue before a worker took it. */
  queued(seconds: number): void;
  /** Seconds a worker spent on a key. */
  worked(seconds: number): void;
  retried(): void;
}

/** Read at scrape time: the work in progress right now. */
export interface QueueInflightProbe {
  (): { unfinishedSeconds: number; longestRunningSeconds: number };
}

export const noopQueueMetrics: QueueMetricsSink = {
  added: () => {},
  depth: () => {},
  queued: () => {},
  worked: () => {},
  retried: () => {},
};

export class WorkqueueMetrics {
  private readonly probes = new Map<string, QueueInflightProbe>();
  private readonly depthGauge: Gauge<'name'>;
  private readonly adds: Counter<'name'>;
  private readonly queueDuration: Histogram<'name'>;
  private readonly workDuration: Histogram<'name'>;
  private readonly retries: Counter<'name'>;

  constructor(registry: Registry) {
    const registers = [registry];
    // collect() runs at scrape time with `this` bound to the gauge.
    const probes = this.probes;
    this.depthGauge = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers });
    this.adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers });
    this.queueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers });
    new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration. Large values indicate stuck threads.',
      labelNames: ['name'],
      registers,
      collect() {
        for (const [name, probe] of probes) this.set({ name }, probe().unfinishedSeconds);
      },
    });
    new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames: ['name'],
      registers,
      collect() {
        for (const [name, probe] of probes) this.set({ name }, probe().longestRunningSeconds);
      },
    });
  }

  /** The sink for one queue; probe is read at scrape time. */
  forQueue(name: string, probe: QueueInflightProbe): QueueMetricsSink {
    this.probes.set(name, probe);
    const labels = { name };
    // Series exist from the start (0), as client-go's do.
    this.depthGauge.set(labels, 0);
    this.adds.inc(labels, 0);
    this.retries.inc(labels, 0);
    return {
      added: () => this.adds.inc(labels),
      depth: (n) => this.depthGauge.set(labels, n),
      queued: (s) => this.queueDuration.observe(labels, s),
      worked: (s) => this.workDuration.observe(labels, s),
      retried: () => this.retries.inc(labels),
    };
  }
}
