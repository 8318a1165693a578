// What both local stacks print on every refresh, and how they report a fatal error.
import type { TicketKeySet } from '../src/api/index.ts';
import { formatStatus } from '../src/cli/ctl.ts';
import { toKubeError } from '../src/operator/runtime/api-errors.ts';

export interface ResumptionTally {
  resumed: number;
  failed: number;
  fresh: number;
}

/** The TicketKeySet's status, then the resumption probe's tally and its last result. */
export function printLiveView(o: { tks: TicketKeySet; tally: ResumptionTally; over: string; last?: { target: string; resumed: boolean }; footer: string }): void {
  if (process.stdout.isTTY) console.clear();
  else console.log('');
  console.log(formatStatus(o.tks));
  console.log(
    `resumption across pods (TLS 1.3, round-robin${o.over}): ${o.tally.resumed} resumed, ${o.tally.failed} failed, ${o.tally.fresh} fresh` +
      (o.last ? `   last: ${o.last.target} ${o.last.resumed ? 'resumed' : 'full handshake'}` : ''),
  );
  console.log(`\n${o.footer}`);
}

/** One line (the API server's message when it refused), the stack only with TKO_DEBUG. */
export function reportFatal(command: string, err: unknown): void {
  console.error(`${command}: ${toKubeError(err, 'Kubernetes API').message}`);
  if (process.env.TKO_DEBUG && err instanceof Error) console.error(err.stack);
}
