// What goes wrong reading an ATS configuration file. A whole file that cannot be read (too big,
// binary, not the expected structure) is a ConfigUnparseable error; a single line ATS itself
// would skip is a problem recorded next to what was parsed, so the rest of the file still counts.

export class ConfigUnparseable extends Error {
  override name = 'ConfigUnparseable';
  /** The ConfigMap key or file name, e.g. "records.config". */
  readonly file: string;
  /** 1-based; undefined when the problem is the file as a whole (its size). */
  readonly line: number | undefined;
  readonly detail: string;

  constructor(file: string, line: number | undefined, detail: string) {
    super(`${file}${line === undefined ? '' : ` line ${line}`}: ${detail}`);
    this.file = file;
    this.line = line;
    this.detail = detail;
  }
}

export interface LineProblem {
  readonly line: number;
  readonly message: string;
}

/** How many line problems a parsed file keeps (a hostile file may have a million bad lines). */
export const MAX_LINE_PROBLEMS = 20;

/** Collects line problems up to MAX_LINE_PROBLEMS and counts the rest. */
export class LineProblems {
  readonly kept: LineProblem[] = [];
  dropped = 0;

  add(line: number, message: string): void {
    if (this.kept.length < MAX_LINE_PROBLEMS) this.kept.push({ line, message });
    else this.dropped += 1;
  }
}
