// A small world for property tests: pods whose agents install pushed rings after a per-pod
// latency (or fail to, when unreachable), an operator loop that persists to a simulated Secret
// and executes step()'s actions, and checkers for the protocol's invariants at every instant
// (after every event, every single delivery to a pod and every time advance).
import type { Action } from '../../../src/core/actions.ts';
import type { RandomSource } from '../../../src/core/key-material.ts';
import type { PodObservation } from '../../../src/core/observations.ts';
import type { RotationPolicy } from '../../../src/core/policy.ts';
import { MAX_RING_KEYS, ringFingerprintOf } from '../../../src/core/ring.ts';
import { decodeSecret, encodeSecret, type SecretPayload } from '../../../src/core/secret-format.ts';
import { initialState, ringMaterial, ringSignature, sameState, stateProblems, type RotationState } from '../../../src/core/state.ts';
import { step } from '../../../src/core/step.ts';

export interface SimPod {
  readonly name: string;
  ready: boolean;
  terminating: boolean;
  /** false: the agent is unreachable and every push fails. */
  reachable: boolean;
  /** How long a push takes to reach ATS on this pod. */
  latencyMs: number;
  /** What ATS holds (fingerprints only): keys[0] encrypts. */
  ring?: { generation: number; fingerprint: string; keys: string[] } | undefined;
  error?: string | undefined;
}

export type SimEvent =
  | { t: 'advance'; ms: number }
  | { t: 'addPod'; reachable: boolean; latencyMs?: number }
  | { t: 'removePod'; i: number }
  | { t: 'terminatePod'; i: number }
  | { t: 'setReady'; i: number }
  | { t: 'setNotReady'; i: number }
  | { t: 'setReachable'; i: number; reachable: boolean }
  | { t: 'restartAts'; i: number }
  | { t: 'rotateNow' }
  | { t: 'revoke' }
  | { t: 'toggleSuspend' }
  | { t: 'crashNextReconcile'; actions: number; pods: number }
  | { t: 'reconcile' };

/** A push on its way to one pod's agent. */
interface Delivery {
  at: number;
  pod: string;
  generation: number;
  fingerprint: string;
  keys: string[];
  revoke: boolean;
}

/** How long the shell waits for an unreachable agent before recording the error. */
const UNREACHABLE_TIMEOUT_MS = 2_000;

export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

export interface SimOptions {
  policy: RotationPolicy;
  random: RandomSource;
  start: number;
  /** Record decrypt violations instead of throwing (to show the Immediate baseline breaks). */
  recordDecryptViolations?: boolean;
  /** Order in which a push reaches pods (a permutation seed). */
  fanoutSeed?: number;
}

export class Simulation {
  now: number;
  policy: RotationPolicy;
  readonly pods: SimPod[] = [];
  readonly events: { at: number; reason: string; type: string }[] = [];
  readonly decryptViolations: string[] = [];
  secret: SecretPayload | undefined;
  nextReconcileAt: number;
  private readonly random: RandomSource;
  private readonly record: boolean;
  private podCounter = 0;
  private tokenCounter = 0;
  private crashCut: { actions: number; pods: number } | undefined;
  private fanout: number;
  /** Last instant a Ready pod encrypted with each key (by fingerprint). */
  private readonly lastUse = new Map<string, number>();
  private readonly generationRings = new Map<number, string>();
  private inflight: Delivery[] = [];
  private lastRevokeAt = -Infinity;
  private readonly revoked = new Set<string>();
  private maxGeneration = 0;
  stepCount = 0;

  constructor(o: SimOptions) {
    this.policy = o.policy;
    this.random = o.random;
    this.now = o.start;
    this.nextReconcileAt = o.start;
    this.record = o.recordDecryptViolations ?? false;
    this.fanout = o.fanoutSeed ?? 1;
  }

  /** What the operator reads: the Secret, or the initial state. */
  load(): RotationState {
    if (this.secret === undefined) return initialState();
    if (this.loaded?.secret !== this.secret) this.loaded = { secret: this.secret, state: decodeSecret(this.secret) };
    return this.loaded.state;
  }

  private loaded: { secret: SecretPayload; state: RotationState } | undefined;

  apply(ev: SimEvent): void {
    const pick = (i: number): SimPod | undefined => (this.pods.length === 0 ? undefined : this.pods[i % this.pods.length]);
    switch (ev.t) {
      case 'advance':
        this.advance(ev.ms);
        return;
      case 'addPod':
        this.pods.push({ name: `p${this.podCounter++}`, ready: false, terminating: false, reachable: ev.reachable, latencyMs: ev.latencyMs ?? 0 });
        break;
      case 'removePod': {
        const p = pick(ev.i);
        if (p) this.pods.splice(this.pods.indexOf(p), 1);
        break;
      }
      case 'terminatePod': {
        const p = pick(ev.i);
        if (p) p.terminating = true;
        break;
      }
      case 'setReady': {
        // The readiness gate: a pod turns Ready only while it holds the current ring.
        const p = pick(ev.i);
        const current = this.currentRing();
        if (p && !p.terminating && p.ring !== undefined && current !== undefined && p.ring.fingerprint === current.fp && p.ring.generation === current.generation) {
          p.ready = true;
        }
        break;
      }
      case 'setNotReady': {
        const p = pick(ev.i);
        if (p) p.ready = false;
        break;
      }
      case 'setReachable': {
        const p = pick(ev.i);
        if (p) p.reachable = ev.reachable;
        break;
      }
      case 'restartAts': {
        // ATS restarted: pushed keys are lost; the agent reports not ready until re-pushed.
        const p = pick(ev.i);
        if (p) {
          p.ring = undefined;
          p.ready = false;
        }
        break;
      }
      case 'rotateNow':
        this.policy = { ...this.policy, rotateNowToken: `rotate-${this.tokenCounter++}` };
        break;
      case 'revoke':
        this.policy = { ...this.policy, revokeToken: `revoke-${this.tokenCounter++}` };
        break;
      case 'toggleSuspend':
        this.policy = { ...this.policy, suspend: !this.policy.suspend };
        break;
      case 'crashNextReconcile':
        this.crashCut = { actions: ev.actions, pods: ev.pods };
        return;
      case 'reconcile':
        break;
    }
    this.observeInstant('event');
    this.settle();
  }

  /** Time passes: pushes land and the operator reconciles at every requeue deadline on the way. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const nextDelivery = this.inflight.reduce((m, d) => Math.min(m, d.at), Infinity);
      const next = Math.min(nextDelivery, this.nextReconcileAt);
      if (next > target) break;
      this.now = Math.max(this.now, next);
      this.observeInstant('time');
      this.settle();
    }
    this.now = target;
    this.observeInstant('time');
  }

  /** Deliveries due now land, then the operator reconciles (level-triggered), a bounded number of rounds. */
  settle(maxRounds = 8): void {
    for (let i = 0; i < maxRounds; i++) {
      this.deliverDue();
      const acted = this.reconcileOnce();
      if (!acted && !this.inflight.some((d) => d.at <= this.now)) return;
    }
  }

  private deliverDue(): void {
    const due = this.inflight.filter((d) => d.at <= this.now);
    this.inflight = this.inflight.filter((d) => d.at > this.now);
    for (const d of due) {
      const p = this.pods.find((x) => x.name === d.pod);
      if (p === undefined || p.terminating) continue;
      if (!p.reachable) {
        p.error = 'agent unreachable';
        continue;
      }
      const held = p.ring;
      // The agent refuses an older generation (a late duplicate is harmless). Agents may accept
      // an older generation for a revoke; step() never needs that (a revoke's generation is
      // above every acknowledged one), and a delayed revoke push must not roll a pod back.
      if (held !== undefined && d.generation < held.generation) continue;
      p.ring = { generation: d.generation, fingerprint: d.fingerprint, keys: d.keys };
      p.error = undefined;
      this.observeInstant(`install of generation ${d.generation} on ${p.name}`);
    }
  }

  observe(): PodObservation[] {
    return this.pods.map((p) => ({
      name: p.name,
      uid: `uid-${p.name}`,
      ready: p.ready,
      terminating: p.terminating,
      acked: p.ring === undefined ? undefined : { generation: p.ring.generation, ringFingerprint: p.ring.fingerprint },
      error: p.error,
    }));
  }

  /** One step and the execution of its actions. Returns whether it persisted or sent a push. */
  reconcileOnce(): boolean {
    const prev = this.load();
    const result = step(prev, { pods: this.observe() }, this.policy, this.now, { random: this.random });
    this.stepCount++;
    this.checkResult(prev, result.state, result.actions);
    const crash = this.crashCut;
    this.crashCut = undefined;
    let acted = false;
    for (const [i, action] of result.actions.entries()) {
      if (crash !== undefined && i >= crash.actions) {
        // The operator process dies here (a push reaches only some pods); whatever was not
        // persisted is lost, and a fresh process reconciles from the Secret.
        if (action.kind === 'push') this.execute(action, crash.pods);
        this.nextReconcileAt = this.now;
        return false;
      }
      acted = this.execute(action, undefined) || acted;
    }
    return acted;
  }

  private execute(action: Action, podLimit: number | undefined): boolean {
    switch (action.kind) {
      case 'persist':
        this.persist(action.state);
        return true;
      case 'push': {
        const stored = this.load();
        // Persist before push: what is pushed is exactly what the Secret holds.
        if (action.generation !== stored.generation || action.ringFingerprint !== ringFingerprintOf(ringMaterial(stored))) {
          throw new InvariantViolation(`pushed generation ${action.generation} is not the persisted ring (generation ${stored.generation})`);
        }
        if (action.revoke !== (stored.phase === 'Revoking')) throw new InvariantViolation('revoke flag outside a revoke');
        const keys = action.ring.map((k) => k.material.fingerprint);
        let sent = false;
        const order = shuffle([...action.pods], this.fanout++);
        const limit = podLimit ?? order.length;
        for (const name of order.slice(0, limit)) {
          const p = this.pods.find((x) => x.name === name);
          if (p === undefined) throw new InvariantViolation(`push to unknown pod ${name}`);
          if (p.terminating) throw new InvariantViolation(`push to terminating pod ${name}`);
          const held = p.ring;
          if (held !== undefined && action.generation < held.generation) {
            throw new InvariantViolation(`pushing generation ${action.generation} to ${name}, which holds ${held.generation}`);
          }
          // The shell does not send a second copy of a push still in flight.
          if (this.inflight.some((d) => d.pod === name && d.generation === action.generation)) continue;
          const at = this.now + (p.reachable ? p.latencyMs : UNREACHABLE_TIMEOUT_MS);
          this.inflight.push({ at, pod: name, generation: action.generation, fingerprint: action.ringFingerprint, keys, revoke: action.revoke });
          sent = true;
        }
        return sent;
      }
      case 'destroyKeys': {
        const stored = this.load();
        const live = new Set(stored.keys.map((k) => k.material.fingerprint));
        for (const k of action.keys) {
          if (live.has(k.fingerprint)) throw new InvariantViolation(`destroying ${k.fingerprint}, still in the persisted ring`);
          k.destroy();
        }
        return false;
      }
      case 'requeue':
        if (!(action.afterMs > 0)) throw new InvariantViolation(`requeue after ${action.afterMs} ms would spin`);
        this.nextReconcileAt = this.now + action.afterMs;
        return false;
      case 'event':
        this.events.push({ at: this.now, reason: action.reason, type: action.type });
        return false;
      case 'flushSessionCache':
      case 'conditions':
        return false;
    }
  }

  private persist(next: RotationState): void {
    const problems = stateProblems(next);
    if (problems.length > 0) throw new InvariantViolation(`persisting an inconsistent state: ${problems.join('; ')}`);
    const before = this.load();
    const encoded = encodeSecret(next);
    if (!sameState(decodeSecret(encoded), next)) throw new InvariantViolation('the Secret does not round-trip');
    // Exactly one active key; the ring stays bounded.
    if (next.keys.filter((k) => k.state === 'active').length !== 1) throw new InvariantViolation('not exactly one active key');
    if (next.keys.length > MAX_RING_KEYS) throw new InvariantViolation(`ring of ${next.keys.length} keys`);
    // Generation strictly increases on every ring change and is never reused.
    const sig = ringSignature(next.keys);
    if (next.generation < before.generation) throw new InvariantViolation('generation went backwards');
    if (sig !== ringSignature(before.keys) && next.generation <= before.generation) {
      throw new InvariantViolation(`ring changed without a new generation (${next.generation})`);
    }
    const known = this.generationRings.get(next.generation);
    if (known !== undefined && known !== sig) throw new InvariantViolation(`generation ${next.generation} reused for another ring`);
    this.generationRings.set(next.generation, sig);
    this.maxGeneration = Math.max(this.maxGeneration, next.generation);
    // A revoke leaves only keys created after it.
    if (before.keys.length > 0 && next.handledRevokeToken !== before.handledRevokeToken) {
      this.lastRevokeAt = this.now;
      for (const k of before.keys) this.revoked.add(k.material.fingerprint);
    }
    if (next.keys.some((k) => k.createdAt < this.lastRevokeAt || this.revoked.has(k.material.fingerprint))) {
      throw new InvariantViolation('a key from before the last revoke is in the ring');
    }
    // Retired keys live at least ticketLifetime + promotionTimeout, and outlive every ticket.
    const kept = new Set(next.keys.map((k) => k.material.fingerprint));
    for (const k of before.keys) {
      if (kept.has(k.material.fingerprint) || this.revoked.has(k.material.fingerprint)) continue;
      if (k.state !== 'retired') throw new InvariantViolation(`a ${k.state} key left the ring outside a revoke`);
      const lived = this.now - k.retiredAt!;
      if (lived < this.policy.ticketLifetimeMs + this.policy.promotionTimeoutMs) {
        throw new InvariantViolation(`retired key dropped after ${lived} ms`);
      }
      const used = this.lastUse.get(k.material.fingerprint);
      if (used !== undefined && this.now < used + this.policy.ticketLifetimeMs) {
        throw new InvariantViolation(`key dropped ${this.now - used} ms after a pod last encrypted with it`);
      }
    }
    this.secret = encoded;
  }

  private checkResult(prev: RotationState, next: RotationState, actions: readonly Action[]): void {
    if (next.generation < prev.generation) throw new InvariantViolation('step returned an older generation');
    const kinds = actions.map((a) => a.kind);
    const persistAt = kinds.indexOf('persist');
    const pushAt = kinds.indexOf('push');
    if (pushAt >= 0 && !sameState(prev, next) && (persistAt < 0 || persistAt > pushAt)) {
      throw new InvariantViolation('push before persisting a changed state');
    }
    if (kinds.at(-1) !== 'requeue') throw new InvariantViolation('the last action is not requeue');
  }

  currentRing(): { generation: number; fp: string } | undefined {
    const s = this.load();
    return s.keys.length === 0 ? undefined : { generation: s.generation, fp: ringFingerprintOf(ringMaterial(s)) };
  }

  /** The decrypt invariant and ticket bookkeeping at this instant. */
  observeInstant(where: string): void {
    const state = this.load();
    const serving = this.pods.filter((p) => p.ready && !p.terminating);
    const revoking = state.phase === 'Revoking';
    for (const p of serving) {
      const enc = p.ring?.keys[0];
      if (enc === undefined) {
        this.violation(`${where}: Ready pod ${p.name} holds no ring`);
        continue;
      }
      this.lastUse.set(enc, this.now);
      if (revoking) continue; // a revoke deliberately breaks old tickets while it spreads
      for (const q of serving) {
        if (!(q.ring?.keys.includes(enc) ?? false)) {
          this.violation(`${where}: ${q.name} cannot decrypt tickets ${p.name} encrypts (key ${enc})`);
        }
      }
    }
    if (revoking) return;
    // Every ticket still valid (issued by a Ready pod within ticketLifetime) decrypts on every
    // Ready pod. Keys no longer in the ring were revoked, or dropped after the check in persist().
    const inRing = new Set(state.keys.map((k) => k.material.fingerprint));
    for (const [fp, used] of this.lastUse) {
      if (this.now >= used + this.policy.ticketLifetimeMs || !inRing.has(fp)) continue;
      for (const q of serving) {
        if (!(q.ring?.keys.includes(fp) ?? false)) this.violation(`${where}: ${q.name} lost key ${fp} while its tickets are valid`);
      }
    }
  }

  private violation(message: string): void {
    if (this.record) this.decryptViolations.push(message);
    else throw new InvariantViolation(message);
  }
}

/** Deterministic Fisher–Yates with a tiny LCG. */
function shuffle<T>(items: T[], seed: number): T[] {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = items.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const j = x % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
