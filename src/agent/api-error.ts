// An error the agent answers with: HTTP status + stable code + a message the agent wrote
// itself (never request data, so never key bytes). On the wire: `{ error: code, message }`.
import { ExchangeError } from '../observability/describe-error.ts';
import type { ErrorCode } from './protocol.ts';

export class ApiError extends ExchangeError<ErrorCode> {
  override name = 'ApiError';
  readonly peer = 'agent';
  /** Seconds, sent as Retry-After. */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: ErrorCode, message: string, retryAfter?: number) {
    super(status, code, message);
    this.retryAfter = retryAfter;
  }
}

/** 503 for an unreachable ATS, with the seconds a client should wait before retrying. */
export function atsUnavailable(retryAfter = 1, message = 'ATS is not reachable'): ApiError {
  return new ApiError(503, 'ats_unavailable', message, retryAfter);
}
