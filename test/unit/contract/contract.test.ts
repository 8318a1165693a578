// src/contract is the one source of the names and limits the operator, the agent and the
// plugin share: it imports nothing else, and every side that used to spell them uses its values.
// The type-level checks below are enforced by `npm run typecheck` (a drift fails to compile).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parseAck } from '../../../src/agent/ats9/ack-channel.ts';
import { FRAME_HEADER_BYTES as PLUGIN_FRAME_HEADER_BYTES, MAX_KEYS } from '../../../src/agent/ats9/plugin-protocol.ts';
import * as protocol from '../../../src/agent/protocol.ts';
import { CONDITION_STATUSES } from '../../../src/api/condition.ts';
import type { ConditionType as ApiConditionType } from '../../../src/api/names.ts';
import { FINGERPRINT_PATTERN as STATUS_FINGERPRINT_PATTERN, MAX_RETIRED_KEYS } from '../../../src/api/status.ts';
import * as contract from '../../../src/contract/index.ts';
import type { ConditionStatus, ConditionType as CoreConditionType, EventType as CoreEventType } from '../../../src/core/actions.ts';
import { KEY_BYTES as CORE_KEY_BYTES, keyFingerprint, ringFingerprint } from '../../../src/core/fingerprint.ts';
import { KEY_NAME_BYTES as CORE_KEY_NAME_BYTES } from '../../../src/core/key-material.ts';
import { MAX_RING_KEYS as CORE_MAX_RING_KEYS } from '../../../src/core/ring.ts';
import { KEY_STATES as CORE_KEY_STATES, type KeyState as CoreKeyState } from '../../../src/core/state.ts';
import type { EventType as RecorderEventType } from '../../../src/operator/kube/event-recorder.ts';

/** Compiles only when A and B are the same type. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(): T => true as T;

const CONTRACT_DIR = join(process.cwd(), 'src', 'contract');

describe('src/contract', () => {
  it('imports nothing outside src/contract but node:crypto (no TypeBox, no other folder)', () => {
    const files = readdirSync(CONTRACT_DIR).filter((f) => f.endsWith('.ts'));
    expect(files).toEqual(expect.arrayContaining(['keys.ts', 'agent-wire.ts', 'plugin-wire.ts', 'events.ts', 'index.ts']));
    for (const file of files) {
      const source = readFileSync(join(CONTRACT_DIR, file), 'utf8');
      const specifiers = [...source.matchAll(/\bfrom\s+'([^']+)'/g)].map((m) => m[1]);
      expect({ file, outside: specifiers.filter((s) => !/^\.\/[a-z-]+\.ts$/.test(s!) && s !== 'node:crypto') }).toEqual({ file, outside: [] });
    }
  });

  it('is where the core takes its key size, ring bound and key states from', () => {
    expect(CORE_KEY_BYTES).toBe(contract.KEY_BYTES);
    expect(CORE_KEY_NAME_BYTES).toBe(contract.KEY_NAME_BYTES);
    expect(CORE_MAX_RING_KEYS).toBe(contract.MAX_RING_KEYS);
    expect(CORE_KEY_STATES).toBe(contract.KEY_STATES);
    expect(same<Same<CoreKeyState, contract.KeyState>>()).toBe(true);
  });

  it('gives the fingerprint format every producer and checker uses', () => {
    const key = Buffer.alloc(contract.KEY_BYTES, 7);
    expect(keyFingerprint(key)).toMatch(contract.FINGERPRINT_RE);
    expect(ringFingerprint(key)).toMatch(contract.FINGERPRINT_RE);
    expect(keyFingerprint(key)).toHaveLength(contract.FINGERPRINT_HEX_LENGTH);
    expect(STATUS_FINGERPRINT_PATTERN).toBe(contract.FINGERPRINT_PATTERN);
    expect(protocol.Fingerprint.pattern).toBe(contract.FINGERPRINT_PATTERN);
    expect(MAX_RETIRED_KEYS).toBe(contract.MAX_RING_KEYS);
  });

  it('builds the agent protocol schemas: key states, error codes, health and reload names accept exactly its names', () => {
    const cases = [
      [protocol.KeyState, contract.KEY_STATES],
      [protocol.ErrorCode, contract.ERROR_CODES],
      [protocol.ReloadTrigger, contract.RELOAD_TRIGGERS],
      [protocol.HealthResponse.properties.status, contract.HEALTH_STATUSES],
    ] as const;
    for (const [schema, names] of cases) {
      const check = TypeCompiler.Compile(schema);
      for (const name of names) expect(check.Check(name)).toBe(true);
      expect(check.Check('unknown')).toBe(false);
      expect(schema.anyOf.map((s: { const: string }) => s.const)).toEqual([...names]);
    }
    expect(protocol.MAX_RING_KEYS).toBe(contract.MAX_RING_KEYS);
    expect(protocol.PutRingRequest.properties.keys.maxItems).toBe(contract.MAX_RING_KEYS);
    expect(protocol.BODY_LIMIT_BYTES).toBe(contract.BODY_LIMIT_BYTES);
    expect(same<Same<protocol.KeyState, contract.KeyState>>()).toBe(true);
    expect(same<Same<protocol.ErrorCode, contract.ErrorCode>>()).toBe(true);
  });

  it('bounds the plugin frame and the ack records the agent parses', () => {
    expect(MAX_KEYS).toBe(contract.MAX_RING_KEYS);
    expect(PLUGIN_FRAME_HEADER_BYTES).toBe(contract.FRAME_HEADER_BYTES);
    const fp = '0123456789abcdef';
    const ring = (keys: number) => `${contract.ACK_RECORD_TAG} seq=1 kind=ring result=installed gen=2 keys=${keys} fp=${fp} installed=2 loaded_at=3`;
    expect(parseAck(ring(contract.MAX_RING_KEYS)).ok).toBe(true);
    expect(parseAck(ring(contract.MAX_RING_KEYS + 1))).toEqual({ ok: false, error: 'bad number' });
    expect(parseAck(`${contract.ACK_RECORD_TAG} seq=1 kind=flush flushes=2 loaded_at=3`).ok).toBe(true);
  });

  it('names the reject tokens the agent knows (stale_generation drives its 409)', () => {
    expect(Object.keys(contract.PLUGIN_REJECT_REASONS)).toContain('stale_generation');
    expect(contract.PLUGIN_REJECT_REASONS.bad_length).toBe(`ring length not a multiple of ${contract.KEY_BYTES}`);
    expect(contract.PLUGIN_REJECT_REASONS.too_many_keys).toBe(`more than ${contract.MAX_RING_KEYS} keys`);
  });

  it('agrees with the API on condition and event type names (checked at compile time)', () => {
    expect(same<Same<CoreConditionType, ApiConditionType>>()).toBe(true);
    expect(same<Same<ConditionStatus, (typeof CONDITION_STATUSES)[number]>>()).toBe(true);
    expect(same<Same<CoreEventType, contract.EventType>>()).toBe(true);
    expect(same<Same<RecorderEventType, contract.EventType>>()).toBe(true);
    expect([...contract.EVENT_TYPES]).toEqual(['Normal', 'Warning']);
  });
});
