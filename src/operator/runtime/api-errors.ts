// Typed errors for the API answers the operator acts on. Messages carry the Status reason and
// message only — never request or response bodies, which could hold Secret data. As every
// ExchangeError: `status` is the HTTP status, `code` the machine-readable metav1.Status reason.
import { ApiException } from '@kubernetes/client-node';
import { ExchangeError } from '../../observability/describe-error.ts';

export class KubeApiError extends ExchangeError {
  override name = 'KubeApiError';
  readonly peer = 'Kubernetes API';
  /**
   * @param status HTTP status, e.g. 409.
   * @param code metav1.Status reason, e.g. 'Conflict', 'AlreadyExists', 'NotFound', 'Invalid'.
   */
  constructor(status: number, code: string, message: string) {
    super(status, code, message);
  }
}

/** 409 Conflict: the object changed since the resourceVersion the write was based on. */
export class ConflictError extends KubeApiError {
  constructor(message: string) {
    super(409, 'Conflict', message);
    this.name = 'ConflictError';
  }
}

/** 409 AlreadyExists: a create found the name taken. */
export class AlreadyExistsError extends KubeApiError {
  constructor(message: string) {
    super(409, 'AlreadyExists', message);
    this.name = 'AlreadyExistsError';
  }
}

export class NotFoundError extends KubeApiError {
  constructor(message: string) {
    super(404, 'NotFound', message);
    this.name = 'NotFoundError';
  }
}

/**
 * The API server did not answer within the request timeout (withTimeout). Not an HTTP status:
 * the request may or may not have been applied, as with any lost answer.
 */
export class KubeTimeoutError extends ExchangeError<'timeout'> {
  override name = 'KubeTimeoutError';
  readonly peer = 'Kubernetes API';
  constructor(message: string) {
    super(0, 'timeout', message);
  }
}

/** True for the abort withTimeout causes (fetch rejects with a TimeoutError DOMException). */
function isTimeout(err: unknown): boolean {
  if (err instanceof KubeTimeoutError) return true;
  // A DOMException is told apart by its name, not its class (and may come from Node's own realm).
  const e = err as { name?: unknown; cause?: { name?: unknown } } | undefined;
  return e?.name === 'TimeoutError' || e?.cause?.name === 'TimeoutError';
}

/**
 * client-node's Watch fails a non-200 answer with a plain Error carrying `statusCode`: there is no
 * class to test with instanceof, so this guard is the one place that reads the field.
 */
function isWatchStatusError(err: unknown): err is Error & { statusCode: number } {
  return err instanceof Error && typeof (err as Error & { statusCode?: unknown }).statusCode === 'number';
}

/** The HTTP status of a Kubernetes API error (typed, ApiException or a watch's), undefined otherwise. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.status;
  if (err instanceof ApiException) return err.code; // client-node's `code` is the HTTP status
  if (isWatchStatusError(err)) return err.statusCode;
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

/**
 * Converts a client-node ApiException (or a watch's status error, or a request timeout) into a
 * typed error; other errors pass through.
 * `what` names the object for the message, e.g. `secret ns/name`.
 */
export function toKubeError(err: unknown, what: string): Error {
  if (isTimeout(err)) return err instanceof KubeTimeoutError ? err : new KubeTimeoutError(`${what}: no answer from the Kubernetes API within the request timeout`);
  if (isWatchStatusError(err)) return new KubeApiError(err.statusCode, `HTTP${err.statusCode}`, `${what}: ${err.message}`);
  if (!(err instanceof ApiException)) return err instanceof Error ? err : new Error(String(err));
  const status = parseStatus(err.body);
  const reason = status.reason ?? '';
  const message = `${what}: ${status.message ?? `HTTP ${err.code}`}`;
  if (err.code === 404) return new NotFoundError(message);
  if (err.code === 409) return reason === 'AlreadyExists' ? new AlreadyExistsError(message) : new ConflictError(message);
  return new KubeApiError(err.code, reason || `HTTP${err.code}`, message);
}

function parseStatus(body: unknown): { reason?: string; message?: string } {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return {};
    }
  }
  if (!value || typeof value !== 'object') return {};
  const { reason, message } = value as { reason?: unknown; message?: unknown };
  return {
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof message === 'string' ? { message } : {}),
  };
}
