// One line for any error, the same everywhere it is shown: logs, status conditions, CLI tables.
// The project's errors never carry request or response bodies (so never key bytes or Secret
// data), and only the first line of any message is kept: a library error that appends a body
// after its first line (client-node's ApiException does) loses it here.

/**
 * An error that stands for one HTTP exchange, answered or not, with one meaning for its fields
 * across the project: `status` is the HTTP status (0 when no HTTP answer arrived: timeout,
 * refused, reset) and `code` a stable machine-readable string (the agent protocol's error code,
 * the Kubernetes Status reason, 'timeout').
 */
export abstract class ExchangeError<Code extends string = string> extends Error {
  /** Who answered (or did not), as descriptions name it: 'agent', 'Kubernetes API'. */
  abstract readonly peer: string;
  readonly status: number;
  readonly code: Code;

  constructor(status: number, code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.code = code;
  }
}

/** Longest description; longer ones are cut with an ellipsis. */
export const DESCRIPTION_LIMIT = 512;

/** Causes followed for errors that are not ExchangeErrors (which summarise their cause). */
const CAUSE_DEPTH = 2;

/**
 * One safe line: `agent answered 503 ats_unavailable: ATS is not reachable`,
 * `agent timeout: GET https://10.0.0.1:9443/v1/ring: no answer within 5000 ms`,
 * `Kubernetes API answered 409 Conflict: secret ns/web-ticket-keys: …`,
 * `TypeError: fetch failed (Error: connect ECONNREFUSED 127.0.0.1:6443)`.
 */
export function describeError(err: unknown): string {
  const line = describe(err, CAUSE_DEPTH);
  return line.length > DESCRIPTION_LIMIT ? `${line.slice(0, DESCRIPTION_LIMIT - 1)}…` : line;
}

function describe(err: unknown, causes: number): string {
  if (err instanceof ExchangeError) {
    const message = firstLine(err.message);
    return err.status > 0 ? `${err.peer} answered ${err.status} ${err.code}: ${message}` : `${err.peer} ${err.code}: ${message}`;
  }
  if (err instanceof Error) {
    const text = `${err.name}: ${firstLine(err.message)}`;
    return causes > 0 && err.cause !== undefined ? `${text} (${describe(err.cause, causes - 1)})` : text;
  }
  return firstLine(String(err));
}

function firstLine(s: string): string {
  return s.split('\n', 1)[0] ?? '';
}
