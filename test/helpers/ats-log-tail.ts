// What ATS 9.2's ticket-key loader did, from ATS's own logs: lines appended since a point in
// time to traffic_server's stderr (traffic_manager.out, where debug output goes) and diags.log,
// keeping only the loader's, the record update's that schedules it, and the plugin's reload
// lines. Needs the debug tags in LOADER_DEBUG_RECORDS. These lines name files, never keys.
//
//   const tail = await AtsLogTail.at(ats.logDir);   ... reload ...   await tail.poll();
//   loaderOutcomes(tail)      ['loaded', ...] one per loader run, in order
//   tail.find(LOADER_SCHEDULED)
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/** ssl_load: LoadTicket's lines; config: the record update that schedules it; ticketkeys: the plugin. */
export const LOADER_DEBUG_TAGS = 'ssl_load|config|ticketkeys';
export const LOADER_DEBUG_RECORDS = ['CONFIG proxy.config.diags.debug.enabled INT 1', `CONFIG proxy.config.diags.debug.tags STRING ${LOADER_DEBUG_TAGS}`];
/** ConfigUpdateHandler<SSLTicketKeyConfig>::update: the loader is scheduled (every reload). */
export const LOADER_SCHEDULED = /ConfigUpdateHandler<UpdateClass>::update.*SSLTicketKeyConfig.*ticket_key\.filename/;
/** The plugin got TS_EVENT_MGMT_UPDATE and re-applied its ring. */
export const PLUGIN_REAPPLIED = /config reload: re-applied/;

const KEPT = /LoadTicket|ticket key|SSLTicketKeyConfig|config reload: re-applied/;

export type LoaderOutcome = 'loaded' | 'unchanged' | 'failed' | 'no file';

export class AtsLogTail {
  readonly #offsets = new Map<string, number>();
  readonly lines: string[] = [];
  readonly files: string[];

  private constructor(files: string[]) {
    this.files = files;
  }

  /** Starts at the current end of the instance's logs. */
  static async at(logDir: string): Promise<AtsLogTail> {
    const tail = new AtsLogTail([join(logDir, 'traffic_manager.out'), join(logDir, 'diags.log')]);
    for (const f of tail.files) tail.#offsets.set(f, await fileSize(f));
    return tail;
  }

  /** Reads what was appended since the last poll (whole lines only). */
  async poll(): Promise<void> {
    for (const f of this.files) {
      const from = this.#offsets.get(f) ?? 0;
      const fh = await open(f, 'r').catch(() => undefined);
      if (!fh) continue;
      try {
        const { size: end } = await fh.stat();
        if (end <= from) continue;
        const buf = Buffer.alloc(end - from);
        await fh.read(buf, 0, buf.length, from);
        const text = buf.toString('latin1');
        const complete = text.lastIndexOf('\n') + 1; // a half-written line is read next time
        this.#offsets.set(f, from + complete);
        for (const line of text.slice(0, complete).split('\n')) if (KEPT.test(line)) this.lines.push(line);
      } finally {
        await fh.close();
      }
    }
  }

  find(re: RegExp): string | undefined {
    return this.lines.find((l) => re.test(l));
  }

  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }
}

async function fileSize(file: string): Promise<number> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return 0;
  try {
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

/**
 * What LoadTicket did (SSLConfig.cc in 9.2.9: "has not changed" line 669, "Could not load" 685,
 * "reloaded from" 691); no line at all means no file is configured.
 */
export function loaderOutcome(tail: AtsLogTail): LoaderOutcome {
  if (tail.find(/Could not load ticket key from/)) return 'failed';
  if (tail.find(/ticket key reloaded from/)) return 'loaded';
  if (tail.find(/ticket key .* has not changed/)) return 'unchanged';
  return 'no file';
}

/** "[Dec  6 00:33:22.835]" → milliseconds of the day (enough for delays of seconds within a day). */
export function logTimeMs(line: string | undefined): number | undefined {
  const m = line?.match(/\[\w{3} +\d+ (\d\d):(\d\d):(\d\d)\.(\d{3})\]/);
  return m ? ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]) : undefined;
}
