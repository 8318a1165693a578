// Records events.k8s.io/v1 Events about TicketKeySets (and Pods) as client-go's new events
// library does: an Event names the object it is about (`regarding`), what happened (`reason`,
// `action`), a human `note`, its `type`, and who reports it (reportingController/Instance).
// Repeats of the same event within a window form a series: instead of a new Event, the
// existing one is patched with series.count and lastObservedTime.
// Recording is best effort: failures are logged, never thrown (an Event must not fail a
// reconcile). Notes must never contain key bytes; callers pass fingerprints at most.
import { EventsV1Api, V1MicroTime, type EventsV1Event, type KubeConfig, type KubernetesObject, type V1ObjectReference } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { describeError } from '../../observability/describe-error.ts';
import { createLogger, type Logger } from '../../observability/logger.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { REPORTING_CONTROLLER } from '../labels.ts';
import { isNotFound, toKubeError } from '../runtime/api-errors.ts';
import { DEFAULT_KUBE_TIMEOUT_MS, mergePatch, withTimeout } from '../runtime/request-options.ts';
import type { EventReason } from '../../core/actions.ts';

/** Normal or Warning: src/contract/events.ts, as the core's event actions. */
export type EventType = import('../../contract/events.ts').EventType;

export interface EventInput {
  type: EventType;
  /** CamelCase, ≤128 characters: why (e.g. 'KeyStaged', 'PromotionTimedOut'). */
  reason: EventReason;
  /** CamelCase, ≤128 characters: what was done (e.g. 'Stage', 'Promote', 'Revoke'). */
  action: string;
  /** Human-readable, truncated to 1 KiB (the API limit). */
  note: string;
  /** A second object involved (e.g. the Pod a drift was repaired on). */
  related?: V1ObjectReference;
}

export interface EventRecorderOptions {
  kubeConfig: KubeConfig;
  /** Who reports, e.g. the pod name of this operator replica (≤128 characters). */
  reportingInstance: string;
  reportingController?: string;
  /** Repeats within this time of the last one join its series (default 6 min, as client-go). */
  seriesWindowMs?: number;
  /** Remembered series (LRU; default 4096). */
  cacheSize?: number;
  clock?: Clock;
  logger?: Logger;
  /** Bound of each request (default DEFAULT_KUBE_TIMEOUT_MS): a hung Event write must not hold a reconcile. */
  requestTimeoutMs?: number;
}

interface Series {
  namespace: string;
  name: string;
  count: number;
  lastObservedAt: number;
}

const NOTE_LIMIT_BYTES = 1024;

export class EventRecorder {
  private readonly api: EventsV1Api;
  private readonly reportingController: string;
  private readonly reportingInstance: string;
  private readonly windowMs: number;
  private readonly cacheSize: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly series = new Map<string, Series>();
  /** Serialises records of the same event so concurrent repeats do not both create. */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(options: EventRecorderOptions) {
    this.api = options.kubeConfig.makeApiClient(EventsV1Api);
    this.reportingController = truncate(options.reportingController ?? REPORTING_CONTROLLER, 128);
    this.reportingInstance = truncate(options.reportingInstance, 128);
    this.windowMs = options.seriesWindowMs ?? 6 * 60_000;
    this.cacheSize = options.cacheSize ?? 4096;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
    this.logger = (options.logger ?? createLogger({ component: 'events' })).child({ reportingInstance: this.reportingInstance });
  }

  /** Records an event about `regarding`; resolves with the Event written, or undefined on failure. */
  record(regarding: KubernetesObject | V1ObjectReference, input: EventInput): Promise<EventsV1Event | undefined> {
    const ref = toReference(regarding);
    const key = JSON.stringify([ref.apiVersion, ref.kind, ref.namespace, ref.name, ref.uid, input.related?.uid ?? input.related?.name, input.type, input.reason, input.action, input.note]);
    const previous = this.pending.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.write(key, ref, input));
    this.pending.set(key, next);
    void next.finally(() => {
      if (this.pending.get(key) === next) this.pending.delete(key);
    });
    return next;
  }

  private async write(key: string, ref: V1ObjectReference, input: EventInput): Promise<EventsV1Event | undefined> {
    const now = this.clock.now();
    const known = this.series.get(key);
    try {
      if (known && now - known.lastObservedAt <= this.windowMs) {
        const count = known.count + 1;
        try {
          const patched = await this.api.patchNamespacedEvent(
            { namespace: known.namespace, name: known.name, body: { series: { count, lastObservedTime: new V1MicroTime(now) } } },
            mergePatch(withTimeout(this.timeoutMs)),
          );
          this.remember(key, { ...known, count, lastObservedAt: now });
          return patched;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          // The Event expired (events have a TTL); start a new one.
        }
      }
      const namespace = ref.namespace || 'default';
      const created = await this.api.createNamespacedEvent({
        namespace,
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name: eventName(ref.name ?? 'object', now), namespace },
          eventTime: new V1MicroTime(now),
          reportingController: this.reportingController,
          reportingInstance: this.reportingInstance,
          action: truncate(input.action, 128),
          reason: truncate(input.reason, 128),
          type: input.type,
          note: truncateBytes(input.note, NOTE_LIMIT_BYTES),
          regarding: ref,
          ...(input.related ? { related: input.related } : {}),
        },
      }, withTimeout(this.timeoutMs));
      this.remember(key, { namespace, name: created.metadata?.name ?? '', count: 1, lastObservedAt: now });
      return created;
    } catch (err) {
      this.logger.warn('recording event failed', { reason: input.reason, regarding: `${ref.kind} ${ref.namespace}/${ref.name}`, err: describeError(toKubeError(err, 'event')) });
      return undefined;
    }
  }

  private remember(key: string, s: Series): void {
    this.series.delete(key);
    this.series.set(key, s);
    while (this.series.size > this.cacheSize) {
      const oldest = this.series.keys().next();
      if (oldest.done) break;
      this.series.delete(oldest.value);
    }
  }
}

/** An ObjectReference for an object (or a reference passed through). */
export function toReference(obj: KubernetesObject | V1ObjectReference): V1ObjectReference {
  if ('metadata' in obj && obj.metadata) {
    const m = obj.metadata;
    return {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      namespace: m.namespace,
      name: m.name,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
    };
  }
  return { ...(obj as V1ObjectReference) };
}

/** `<object>.<hex time><hex random>`, like client-go's, within the 253-character name limit. */
function eventName(objectName: string, now: number): string {
  const suffix = `${(BigInt(now) * 1_000_000n).toString(16)}${randomBytes(3).toString('hex')}`;
  return `${objectName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}

function truncateBytes(s: string, maxBytes: number): string {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= maxBytes) return s;
  // Cut on a character boundary and mark the cut.
  let cut = bytes.subarray(0, maxBytes - 3).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return `${cut}...`;
}
