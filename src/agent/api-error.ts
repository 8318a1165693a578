// An error the agent answers with: HTTP status + stable code + a message the agent wrote
// itself (never request data, so never key bytes).
import type { ErrorCode } from './protocol.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: ErrorCode;
  /** Seconds, sent as Retry-After. */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: ErrorCode, message: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** 503 for an unreachable ATS, with the seconds a client should wait before retrying. */
export function atsUnavailable(retryAfter = 1, message = 'ATS is not reachable'): ApiError {
  return new ApiError(503, 'ats_unavailable', message, retryAfter);
}
