// Executes the actions of one step() in the order the contract of src/core/actions.ts asks:
// persist (a failure stops everything after it), push (bounded fan-out), flushSessionCache (to
// pods whose push succeeded), destroyKeys (only after the persist succeeded), events,
// conditions, requeue. The I/O is behind ExecutionPorts, so the ordering is unit-tested with
// fakes and the reconciler supplies the real Secret store, agents and event recorder.
import type { PutRingRequest } from '../../agent/protocol.ts';
import {
  zeroize,
  type Action,
  type ConditionsAction,
  type EventAction,
  type PodAck,
  type PushAction,
  type RotationState,
} from '../../core/index.ts';
import { describeError } from '../../observability/describe-error.ts';
import { mapBounded } from './fan-out.ts';
import type { FaultHook } from './fault.ts';

export type PushResult = { readonly ack: PodAck } | { readonly error: string };

export interface ExecutionPorts {
  /** Writes the state (optimistic concurrency); throws when it could not. */
  persist(state: RotationState): Promise<void>;
  /** Pushes to one pod; resolves with what the agent proved ATS holds. */
  push(pod: string, request: PutRingRequest): Promise<PodAck>;
  flushSessionCache(pod: string): Promise<void>;
  event(event: EventAction): Promise<void>;
  /** Per-pod push outcome (metrics, logs). */
  pushed?(pod: string, result: PushResult, seconds: number, err?: unknown): void;
  fault?: FaultHook;
  now(): number;
}

export interface ExecutionOutcome {
  /** A persist action ran and succeeded. */
  persisted: boolean;
  /** The persist failed: nothing after it was executed. */
  persistError?: unknown;
  pushes: Map<string, PushResult>;
  flushErrors: Map<string, string>;
  destroyedKeys: number;
  events: EventAction[];
  conditions?: ConditionsAction;
  requeueAfterMs?: number;
}

/** The agent request for a push action. Key bytes leave KeyMaterial only here, as base64. */
export function putRingRequest(action: PushAction): PutRingRequest {
  const keys = action.ring.map((k) => {
    const bytes = k.material.copyBytes();
    const material = bytes.toString('base64');
    zeroize(bytes);
    return { fingerprint: k.material.fingerprint, material, state: k.state };
  });
  return { generation: action.generation, keys, ...(action.revoke ? { revoke: true } : {}) };
}

export async function executeActions(
  prev: RotationState,
  actions: readonly Action[],
  ports: ExecutionPorts,
  options: { concurrency: number },
): Promise<ExecutionOutcome> {
  const out: ExecutionOutcome = { persisted: false, pushes: new Map(), flushErrors: new Map(), destroyedKeys: 0, events: [] };
  const fault = ports.fault ?? (() => {});
  for (const action of actions) {
    switch (action.kind) {
      case 'persist': {
        if (prev.phase === 'Staging' && action.state.phase === 'Promoting') fault('exit-before-promote');
        try {
          await ports.persist(action.state);
        } catch (err) {
          out.persistError = err;
          return out;
        }
        out.persisted = true;
        if (action.state.phase === 'Staging' && prev.phase !== 'Staging') fault('exit-after-persist');
        break;
      }
      case 'push': {
        const request = putRingRequest(action);
        const staging = action.ring.some((k) => k.state === 'staged');
        let acknowledged = 0;
        await mapBounded(action.pods, options.concurrency, async (pod) => {
          const started = ports.now();
          let result: PushResult;
          let failure: unknown;
          try {
            const ack = await ports.push(pod, request);
            result =
              ack.generation === action.generation && ack.ringFingerprint === action.ringFingerprint
                ? { ack }
                : { error: `agent reports generation ${ack.generation} ring ${ack.ringFingerprint}, not the pushed ${action.generation} ${action.ringFingerprint}` };
          } catch (err) {
            failure = err;
            result = { error: describeError(err) };
          }
          out.pushes.set(pod, result);
          ports.pushed?.(pod, result, Math.max(0, ports.now() - started) / 1000, failure);
          if ('ack' in result && staging && action.pods.length > 1 && ++acknowledged === 1) fault('exit-mid-fanout');
        });
        break;
      }
      case 'flushSessionCache': {
        const pods = action.pods.filter((p) => {
          const r = out.pushes.get(p);
          return r !== undefined && 'ack' in r;
        });
        await mapBounded(pods, options.concurrency, async (pod) => {
          try {
            await ports.flushSessionCache(pod);
          } catch (err) {
            out.flushErrors.set(pod, describeError(err));
          }
        });
        break;
      }
      case 'destroyKeys': {
        // Only reached when no persist failed (a failed persist returns above).
        for (const k of action.keys) k.destroy();
        out.destroyedKeys += action.keys.length;
        break;
      }
      case 'event':
        out.events.push(action);
        await ports.event(action);
        break;
      case 'conditions':
        out.conditions = action;
        break;
      case 'requeue':
        out.requeueAfterMs = action.afterMs;
        break;
    }
  }
  return out;
}
