// The one describer: every error reads as one safe line, and every ExchangeError of the project
// means the same by `status` (HTTP status, 0 without an answer) and `code` (a stable string).
import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { ApiError } from '../../../src/agent/api-error.ts';
import { MgmtRequestError } from '../../../src/agent/ats9/mgmt-client.ts';
import { AgentError } from '../../../src/agent/client.ts';
import { DESCRIPTION_LIMIT, describeError, ExchangeError } from '../../../src/observability/describe-error.ts';
import { AgentBackingOffError, AgentDeadlineError } from '../../../src/operator/reconciler/agent-breaker.ts';
import { ConflictError, KubeApiError, KubeTimeoutError, NotFoundError, toKubeError } from '../../../src/operator/runtime/api-errors.ts';
import { newKey } from '../../fixtures/keys.ts';

describe('describeError', () => {
  it.each([
    ['an agent answer', new AgentError(503, 'ats_unavailable', 'ATS is restarting', 2), 'agent answered 503 ats_unavailable: ATS is restarting'],
    ['no agent answer', new AgentError(0, 'timeout', 'GET https://10.0.0.1:9443/v1/ring: no answer within 5000 ms'), 'agent timeout: GET https://10.0.0.1:9443/v1/ring: no answer within 5000 ms'],
    ['the agent refusing a request', new ApiError(409, 'stale_generation', 'generation 3 is older than 4'), 'agent answered 409 stale_generation: generation 3 is older than 4'],
    ['a Kubernetes API answer', new ConflictError('secret ns/web-ticket-keys: the object has been modified'), 'Kubernetes API answered 409 Conflict: secret ns/web-ticket-keys: the object has been modified'],
    ['no Kubernetes API answer', new KubeTimeoutError('lease ns/tko: no answer from the Kubernetes API within the request timeout'), 'Kubernetes API timeout: lease ns/tko: no answer from the Kubernetes API within the request timeout'],
    ['a plain error', new TypeError('x is not a function'), 'TypeError: x is not a function'],
    ['a thrown string', 'boom', 'boom'],
    ['a thrown nothing', undefined, 'undefined'],
  ])('%s', (_what, err, expected) => {
    expect(describeError(err)).toBe(expected);
  });

  it("names a backing-off pod's window and the failure that opened it, through the same describer", () => {
    const lastError = describeError(new AgentError(0, 'timeout', 'GET https://10.0.0.1:9443/v1/ring: no answer within 5000 ms'));
    expect(describeError(new AgentBackingOffError(Date.UTC(2026, 0, 2, 3, 4, 5), lastError))).toBe(
      'agent unreachable: backing off until 2026-01-02T03:04:05Z after: agent timeout: GET https://10.0.0.1:9443/v1/ring: no answer within 5000 ms',
    );
    expect(describeError(new AgentDeadlineError(Date.UTC(2026, 0, 2, 3, 4, 5)))).toMatch(/^agent unreachable: not dialled: this reconcile's deadline/);
  });

  it('follows the causes of plain errors (a failed fetch says what failed), not of ExchangeErrors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    expect(describeError(new TypeError('fetch failed', { cause: refused }))).toBe('TypeError: fetch failed (Error: connect ECONNREFUSED 127.0.0.1:6443)');
    expect(describeError(new AgentError(0, 'unreachable', 'GET https://10.0.0.1:9443/v1/ring: ECONNREFUSED: connect refused', undefined, refused))).toBe(
      'agent unreachable: GET https://10.0.0.1:9443/v1/ring: ECONNREFUSED: connect refused',
    );
    // Bounded: a cause chain that loops ends.
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(describeError(a)).toBe('Error: a (Error: b (Error: a))');
  });

  it('keeps only the first line: the response body client-node appends to an ApiException never shows', () => {
    const key = newKey().toString('base64');
    const body = { kind: 'Secret', data: { 'ring.json': key } };
    const err = new ApiException(422, 'Unprocessable Entity', body, { 'content-type': 'application/json' });
    expect(err.message).toContain(key); // what the describer has to cut
    const line = describeError(err);
    expect(line).toBe('Error: HTTP-Code: 422');
    expect(line).not.toContain(key);
  });

  it(`cuts a long line at ${DESCRIPTION_LIMIT} characters`, () => {
    const line = describeError(new AgentError(0, 'unreachable', 'x'.repeat(2000)));
    expect(line).toHaveLength(DESCRIPTION_LIMIT);
    expect(line.endsWith('x…')).toBe(true);
  });
});

describe('status and code mean the same on every ExchangeError', () => {
  it.each([
    ['AgentError with an answer', new AgentError(503, 'ats_unavailable', 'm'), 503, 'ats_unavailable'],
    ['AgentError without one', new AgentError(0, 'tls', 'm'), 0, 'tls'],
    ['ApiError (the agent answering)', new ApiError(413, 'payload_too_large', 'm'), 413, 'payload_too_large'],
    ['KubeApiError', new KubeApiError(422, 'Invalid', 'm'), 422, 'Invalid'],
    ['NotFoundError', new NotFoundError('m'), 404, 'NotFound'],
    ['KubeTimeoutError', new KubeTimeoutError('m'), 0, 'timeout'],
  ])('%s: status is the HTTP status (0: none), code a string', (_what, err, status, code) => {
    expect(err).toBeInstanceOf(ExchangeError);
    expect({ status: err.status, code: err.code }).toEqual({ status, code });
  });

  it("errors that are no HTTP exchange keep `code` a machine-readable string too (traffic_manager's TSMgmtError)", () => {
    const err = new MgmtRequestError('RECORD_GET', 11, 'no.such.record has no value');
    expect({ code: err.code, mgmtError: err.mgmtError, message: err.message }).toEqual({
      code: 'TS_ERR_PARAMS',
      mgmtError: 11,
      message: 'RECORD_GET failed: TS_ERR_PARAMS (no.such.record has no value)',
    });
    expect(describeError(err)).toBe('MgmtRequestError: RECORD_GET failed: TS_ERR_PARAMS (no.such.record has no value)');
  });

  it("toKubeError keeps client-node's HTTP status in status and the Status reason in code", () => {
    const invalid = toKubeError(
      new ApiException(422, 'Unprocessable Entity', JSON.stringify({ kind: 'Status', code: 422, reason: 'Invalid', message: 'spec.x: Invalid value' }), {}),
      'pod ns/p',
    );
    expect(invalid).toBeInstanceOf(KubeApiError);
    expect(invalid).toMatchObject({ status: 422, code: 'Invalid', message: 'pod ns/p: spec.x: Invalid value' });
    const noStatus = toKubeError(new ApiException(503, 'Service Unavailable', 'not json', {}), 'pod ns/p');
    expect(noStatus).toMatchObject({ status: 503, code: 'HTTP503', message: 'pod ns/p: HTTP 503' });
  });
});
