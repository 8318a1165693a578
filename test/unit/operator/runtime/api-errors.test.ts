// The HTTP status of a Kubernetes API error, read from the classes that carry it (and from the
// one classless shape client-node has: a watch's non-200 answer), never from any object's `code`.
import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { AgentError } from '../../../../src/agent/client.ts';
import { describeError } from '../../../../src/observability/describe-error.ts';
import { AlreadyExistsError, ConflictError, isNotFound, KubeApiError, KubeTimeoutError, NotFoundError, statusCodeOf, toKubeError } from '../../../../src/operator/runtime/api-errors.ts';
import { httpError } from './fake-watch.ts';

const status = (code: number, reason: string, message: string) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

describe('statusCodeOf', () => {
  it.each([
    ['a typed error', new NotFoundError('m'), 404],
    ['a KubeApiError', new KubeApiError(422, 'Invalid', 'm'), 422],
    ["client-node's ApiException", new ApiException(403, 'Forbidden', status(403, 'Forbidden', 'no'), {}), 403],
    ["a watch's non-200 answer", httpError(410), 410],
    ['a request timeout (no answer)', new KubeTimeoutError('m'), undefined],
    ["an agent's error (not the Kubernetes API)", new AgentError(404, 'not_found', 'm'), undefined],
    ['an errno error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), undefined],
    ['a plain object with a numeric code', { code: 404 }, undefined],
  ])('%s', (_what, err, expected) => {
    expect(statusCodeOf(err)).toBe(expected);
  });

  it('isNotFound reads it', () => {
    expect(isNotFound(new ApiException(404, 'Not Found', '', {}))).toBe(true);
    expect(isNotFound(new ConflictError('m'))).toBe(false);
  });
});

describe('toKubeError', () => {
  it('maps 404 and the two 409s to their classes, with status and code set', () => {
    const what = 'secret ns/web-ticket-keys';
    const notFound = toKubeError(new ApiException(404, 'Not Found', status(404, 'NotFound', 'secrets "web-ticket-keys" not found'), {}), what);
    const conflict = toKubeError(new ApiException(409, 'Conflict', status(409, 'Conflict', 'the object has been modified'), {}), what);
    const exists = toKubeError(new ApiException(409, 'Conflict', status(409, 'AlreadyExists', 'already exists'), {}), what);
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(exists).toBeInstanceOf(AlreadyExistsError);
    expect([notFound, conflict, exists].map((e) => [(e as KubeApiError).status, (e as KubeApiError).code, e.message])).toEqual([
      [404, 'NotFound', `${what}: secrets "web-ticket-keys" not found`],
      [409, 'Conflict', `${what}: the object has been modified`],
      [409, 'AlreadyExists', `${what}: already exists`],
    ]);
  });

  it("turns a watch's non-200 answer into a KubeApiError with its status", () => {
    const err = toKubeError(httpError(403), 'list/watch /api/v1/pods');
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 403, code: 'HTTP403', message: 'list/watch /api/v1/pods: HTTP 403' });
    expect(describeError(err)).toBe('Kubernetes API answered 403 HTTP403: list/watch /api/v1/pods: HTTP 403');
  });

  it('turns the abort of a request timeout into a KubeTimeoutError, and passes other errors through', () => {
    const abort = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(toKubeError(abort, 'lease ns/tko')).toBeInstanceOf(KubeTimeoutError);
    expect(toKubeError(new TypeError('fetch failed', { cause: abort }), 'lease ns/tko')).toBeInstanceOf(KubeTimeoutError);
    const other = new TypeError('fetch failed');
    expect(toKubeError(other, 'lease ns/tko')).toBe(other);
  });
});
