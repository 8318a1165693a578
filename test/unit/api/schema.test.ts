// The CRD schema is structural, documented on every field (kubectl explain), carries the
// defaults of the API, and validates with CEL rules that have readable messages.
import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_AGENT_PORT,
  DEFAULT_FLUSH_ON_REVOKE,
  DEFAULT_PROMOTION_POLICY,
  DEFAULT_PROMOTION_TIMEOUT,
  DEFAULT_ROTATION_INTERVAL,
  DEFAULT_SESSION_SHARING_BATCH_INTERVAL,
  DEFAULT_SESSION_SHARING_ENABLED,
  DEFAULT_SESSION_SHARING_MAX_ENTRIES,
  DEFAULT_SESSION_SHARING_TTL,
  DEFAULT_SUSPEND,
  DURATION_PATTERN,
  MAX_POD_STATUS_ITEMS,
  PHASES,
  PROMOTION_POLICIES,
} from '../../../src/api/index.ts';
import { allNodes, nodeAt, rootSchema } from './schema-walk.ts';

describe('TicketKeySet schema', () => {
  it('has a description on every node except root metadata (structural schemas forbid one there)', () => {
    const missing = allNodes()
      .filter(([path, node]) => path !== 'metadata' && (node.description ?? '').trim().length < 10)
      .map(([path]) => path || '<root>');
    expect(missing).toEqual([]);
  });

  it('gives every node a type and uses no construct a structural schema rejects', () => {
    const problems: string[] = [];
    for (const [path, node] of allNodes()) {
      // intstr.IntOrString is the one structural node without a type.
      if (node.type === undefined && node['x-kubernetes-int-or-string'] !== true) problems.push(`${path}: no type`);
      for (const key of ['anyOf', 'oneOf', 'allOf', 'not', 'const', 'patternProperties', '$ref', '$id']) {
        if (key in node) problems.push(`${path}: ${key}`);
      }
      if (node.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
      if (node.properties !== undefined && node.additionalProperties !== undefined) problems.push(`${path}: properties with additionalProperties`);
    }
    expect(problems).toEqual([]);
  });

  it('keeps root metadata to `type: object` alone', () => {
    expect(nodeAt('metadata')).toEqual({ type: 'object' });
  });

  it('requires spec and spec.selector', () => {
    expect(rootSchema.required).toEqual(['spec']);
    expect(nodeAt('spec').required).toEqual(['selector']);
  });

  it.each([
    // On the parent, so a rotation.schedule never meets a defaulted interval.
    ['spec.rotation', { interval: DEFAULT_ROTATION_INTERVAL }],
    ['spec.rotation.suspend', DEFAULT_SUSPEND],
    ['spec.promotion.policy', DEFAULT_PROMOTION_POLICY],
    ['spec.promotion.timeout', DEFAULT_PROMOTION_TIMEOUT],
    ['spec.agent.port', DEFAULT_AGENT_PORT],
    ['spec.sessionCache.flushOnRevoke', DEFAULT_FLUSH_ON_REVOKE],
    ['spec.sessionCache.sharing', {}],
    ['spec.sessionCache.sharing.enabled', DEFAULT_SESSION_SHARING_ENABLED],
    ['spec.sessionCache.sharing.maxEntries', DEFAULT_SESSION_SHARING_MAX_ENTRIES],
    ['spec.sessionCache.sharing.ttl', DEFAULT_SESSION_SHARING_TTL],
    ['spec.sessionCache.sharing.batchInterval', DEFAULT_SESSION_SHARING_BATCH_INTERVAL],
  ])('defaults %s to %p', (path, value) => {
    expect(nodeAt(path).default).toEqual(value);
  });

  it('uses the documented default values', () => {
    expect([DEFAULT_ROTATION_INTERVAL, DEFAULT_SUSPEND, DEFAULT_PROMOTION_POLICY, DEFAULT_PROMOTION_TIMEOUT, DEFAULT_AGENT_PORT, DEFAULT_FLUSH_ON_REVOKE]).toEqual(
      ['12h', false, 'AllPodsAcknowledged', '5m', 9443, true],
    );
  });

  it('defaults every optional parent of a defaulted field to an object, so defaults apply to a minimal object', () => {
    // The API server applies a default only where the parent object exists.
    const problems: string[] = [];
    for (const [path, node] of allNodes()) {
      if (!path.startsWith('spec.') || node.default === undefined) continue;
      const parts = path.split('.');
      for (let i = 2; i < parts.length; i++) {
        const parentPath = parts.slice(0, i).join('.');
        const parent = nodeAt(parentPath);
        const grandparent = nodeAt(parts.slice(0, i - 1).join('.'));
        const required = grandparent.required?.includes(parts[i - 1] ?? '') ?? false;
        const d = parent.default as unknown;
        if (!required && (typeof d !== 'object' || d === null || Array.isArray(d))) problems.push(`${parentPath} (parent of ${path})`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has no defaults in status (the operator writes all of it)', () => {
    expect(allNodes().filter(([path, node]) => path.startsWith('status') && node.default !== undefined)).toEqual([]);
  });

  it('restricts the enums', () => {
    expect(nodeAt('spec.promotion.policy').enum).toEqual([...PROMOTION_POLICIES]);
    expect(nodeAt('status.phase').enum).toEqual(['Stable', 'Staging', 'Promoting', 'Revoking']);
    expect(PHASES).toEqual(['Stable', 'Staging', 'Promoting', 'Revoking']);
    expect(nodeAt('spec.selector.matchExpressions[].operator').enum).toEqual(['In', 'NotIn', 'Exists', 'DoesNotExist']);
  });

  it('bounds the agent port to 1..65535', () => {
    expect(nodeAt('spec.agent.port')).toMatchObject({ type: 'integer', minimum: 1, maximum: 65535 });
  });

  it('shares sessions only when asked, with bounded maxEntries and ttl, and says what it costs', () => {
    expect([DEFAULT_SESSION_SHARING_ENABLED, DEFAULT_SESSION_SHARING_MAX_ENTRIES, DEFAULT_SESSION_SHARING_TTL]).toEqual([false, 10_000, '5m']);
    expect(nodeAt('spec.sessionCache.sharing.maxEntries')).toMatchObject({ type: 'integer', minimum: 1, maximum: 1_000_000 });
    expect(nodeAt('spec.sessionCache.sharing.ttl')).toMatchObject({ type: 'string', pattern: DURATION_PATTERN, maxLength: 32 });
    const enabled = nodeAt('spec.sessionCache.sharing.enabled').description ?? '';
    for (const tradeOff of ['leave the ATS process', 'bandwidth', 'TLS 1.2', 'session-ID', 'tickets', 'ssl_multicert.config', 'session_cache 2']) expect(enabled).toContain(tradeOff);
    expect(nodeAt('spec.sessionCache.sharing.ttl').description).toContain('proxy.config.ssl.session_cache.timeout');
    // The interval's trade: CPU per batch against the propagation delay.
    expect(DEFAULT_SESSION_SHARING_BATCH_INTERVAL).toBe('40ms');
    const interval = nodeAt('spec.sessionCache.sharing.batchInterval').description ?? '';
    for (const tradeOff of ['propagation delay', 'CPU', 'first session leaves at once', 'agents that know this field']) expect(interval).toContain(tradeOff);
  });

  it('bounds and describes status.pods.sessionSharing like resumption', () => {
    const node = nodeAt('status.pods.sessionSharing');
    expect(Object.keys(node.properties ?? {}).sort()).toEqual(['dropped', 'exported', 'inserted', 'podsReporting', 'received', 'refused', 'sent']);
    for (const field of ['exported', 'sent', 'received', 'inserted', 'dropped', 'refused']) {
      expect(nodeAt(`status.pods.sessionSharing.${field}`)).toMatchObject({ type: 'integer', format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
    }
    expect(node.description).toContain('Never holds session material');
  });

  it('gives every duration the Go duration pattern and a length bound', () => {
    for (const path of ['spec.rotation.interval', 'spec.ticketLifetime', 'spec.promotion.timeout', 'spec.sessionCache.sharing.ttl', 'spec.sessionCache.sharing.batchInterval']) {
      expect(nodeAt(path)).toMatchObject({ type: 'string', pattern: DURATION_PATTERN, maxLength: 32 });
    }
  });

  it('has a message on every CEL rule and guards duration() with the pattern', () => {
    const rules = allNodes().flatMap(([path, node]) => (node['x-kubernetes-validations'] ?? []).map((r) => ({ path, ...r })));
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const r of rules) {
      expect(r.message?.length ?? 0).toBeGreaterThan(20);
      // duration() of a malformed string is a CEL runtime error; the pattern check comes first.
      if (r.rule.includes('duration(self')) expect(r.rule).toContain('.matches(');
    }
  });

  it.each([
    ['spec.rotation.interval', "duration(self) >= duration('10s')", 'rotation.interval must be at least 10s'],
    ['spec.ticketLifetime', "duration(self) <= duration('168h')", 'ticketLifetime must be at most 168h'],
    ['spec.ticketLifetime', "duration(self) >= duration('1s')", 'ticketLifetime must be at least 1s'],
    ['spec.promotion.timeout', "duration(self) >= duration('1s')", 'promotion.timeout must be at least 1s'],
    ['spec.sessionCache.sharing.ttl', "duration(self) >= duration('1s')", 'sessionCache.sharing.ttl must be at least 1s'],
    ['spec.sessionCache.sharing.ttl', "duration(self) <= duration('24h')", 'sessionCache.sharing.ttl must be at most 24h'],
    ['spec.sessionCache.sharing.batchInterval', "duration(self) >= duration('10ms')", 'sessionCache.sharing.batchInterval must be at least 10ms'],
    ['spec.sessionCache.sharing.batchInterval', "duration(self) <= duration('1s')", 'sessionCache.sharing.batchInterval must be at most 1s'],
    ['spec', 'duration(self.promotion.timeout) < duration(self.rotation.interval)', 'promotion.timeout must be shorter than rotation.interval'],
    ['spec', "duration(self.rotation.interval) <= duration('168h')", 'ticketLifetime defaults to rotation.interval'],
    ['spec.selector', 'size(self.matchLabels) > 0', 'selector must not be empty'],
    ['spec.selector.matchExpressions[]', "self.operator in ['In', 'NotIn']", 'values must be non-empty for operators In and NotIn'],
    ['<root>', 'size(self.metadata.name) <= 63', 'metadata.name must be at most 63 characters'],
  ])('has the CEL rule on %s: %s', (path, ruleFragment, messageFragment) => {
    const rules = nodeAt(path === '<root>' ? '' : path)['x-kubernetes-validations'] ?? [];
    const rule = rules.find((r) => r.rule.includes(ruleFragment));
    expect(rule).toBeDefined();
    expect(rule?.message).toContain(messageFragment);
  });

  it('keys conditions and per-pod entries as maps, and bounds the per-pod list', () => {
    expect(nodeAt('status.conditions')).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });
    expect(nodeAt('status.pods.items')).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      maxItems: MAX_POD_STATUS_ITEMS,
    });
    expect(nodeAt('status.conditions[]').required).toEqual(expect.arrayContaining(['type', 'status', 'lastTransitionTime', 'reason', 'message']));
    expect(nodeAt('status.pods.items[]').required).toEqual(['name']);
  });

  it('bounds every list (CEL cost estimates and status size depend on it)', () => {
    const unbounded = allNodes().filter(([, n]) => n.type === 'array' && n.maxItems === undefined).map(([p]) => p);
    expect(unbounded).toEqual([]);
  });

  it('types timestamps as date-time and counters as integers', () => {
    for (const path of ['status.lastRotationTime', 'status.nextRotationTime', 'status.activeKey.createdAt', 'status.retiredKeys[].expiresAt', 'status.pods.items[].lastAckTime']) {
      expect(nodeAt(path)).toMatchObject({ type: 'string', format: 'date-time' });
    }
    for (const path of ['status.observedGeneration', 'status.keyGeneration', 'status.pods.total', 'status.pods.converged']) {
      expect(nodeAt(path).type).toBe('integer');
    }
  });
});
