// Typed errors for the API answers the operator acts on. Messages carry the Status reason and
// message only — never request or response bodies, which could hold Secret data.
import { ApiException } from '@kubernetes/client-node';

export class KubeApiError extends Error {
  readonly code: number;
  /** metav1.Status reason, e.g. 'Conflict', 'AlreadyExists', 'NotFound', 'Invalid'. */
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
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
export class KubeTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeTimeoutError';
  }
}

/** True for the abort withTimeout causes (fetch rejects with a TimeoutError DOMException). */
export function isTimeout(err: unknown): boolean {
  if (err instanceof KubeTimeoutError) return true;
  const e = err as { name?: unknown; cause?: { name?: unknown } } | undefined;
  return e?.name === 'TimeoutError' || e?.cause?.name === 'TimeoutError';
}

/** The HTTP status of a client-node error (ApiException or typed), undefined otherwise. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.code;
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | undefined)?.statusCode ?? (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return statusCodeOf(err) === 409;
}

/**
 * Converts a client-node ApiException into a typed error (other errors pass through).
 * `what` names the object for the message, e.g. `secret ns/name`.
 */
export function toKubeError(err: unknown, what: string): Error {
  if (isTimeout(err)) return err instanceof KubeTimeoutError ? err : new KubeTimeoutError(`${what}: no answer from the Kubernetes API within the request timeout`);
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
