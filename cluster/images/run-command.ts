// Runs a build tool with its output captured (and appended to a log file), so a failure carries
// the tool's own words instead of just an exit code.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { appendFile } from 'node:fs/promises';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Appends the command line and its combined output here. */
  logFile?: string;
  /** Echo output lines to stderr as they come (CLI progress). */
  echo?: boolean;
}

export interface RunResult {
  stdout: string;
  /** stdout and stderr interleaved, in arrival order. */
  output: string;
}

export class CommandError extends Error {
  readonly output: string;
  readonly exitCode: number | null;
  constructor(message: string, output: string, exitCode: number | null) {
    super(message);
    this.name = 'CommandError';
    this.output = output;
    this.exitCode = exitCode;
  }
}

/** The last n lines of text: enough of a tool's output to see why it failed. */
export function tail(text: string, n = 40): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(Math.max(0, lines.length - n)).join('\n');
}

export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const line = [cmd, ...args].join(' ');
  if (opts.logFile !== undefined) await appendFile(opts.logFile, `\n$ ${line}\n`);
  // Streamed to the log as it comes: a long build can be followed with `tail -f`.
  const logStream = opts.logFile === undefined ? undefined : createWriteStream(opts.logFile, { flags: 'a' });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const all: Buffer[] = [];
    const onData = (isOut: boolean) => (b: Buffer) => {
      if (isOut) out.push(b);
      all.push(b);
      logStream?.write(b);
      if (opts.echo === true) process.stderr.write(b);
    };
    child.stdout.on('data', onData(true));
    child.stderr.on('data', onData(false));
    child.on('error', (err) => {
      logStream?.end();
      reject(new CommandError(`${cmd}: ${err.message}`, '', null));
    });
    child.on('close', (code) => {
      const output = Buffer.concat(all).toString('utf8');
      const done = new Promise<void>((r) => (logStream === undefined ? r() : logStream.end(r)));
      void done.then(() => {
        if (code === 0) resolve({ stdout: Buffer.concat(out).toString('utf8'), output });
        else reject(new CommandError(`${line} exited with ${code}:\n${tail(output)}`, output, code));
      });
    });
  });
}
