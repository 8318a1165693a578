// A scripted stand-in for client-node's Watch: the test pushes events into open watches and
// ends them, and sees the query parameters each watch was opened with.
import type { WatchTransport } from '../../../../src/operator/runtime/informer.ts';

export interface OpenWatch {
  path: string;
  params: Record<string, string | number | boolean | undefined>;
  emit(type: string, object: unknown): void;
  end(err?: unknown): void;
  ended: boolean;
}

export class FakeWatch implements WatchTransport {
  readonly opened: OpenWatch[] = [];
  /** When set, watch() waits for it before answering (a watch still connecting). */
  connecting: Promise<void> | undefined;

  async watch(
    path: string,
    params: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    const w: OpenWatch = {
      path,
      params,
      ended: false,
      emit: (type, object) => {
        if (!w.ended) callback(type, object, { type, object });
      },
      end: (err) => {
        if (w.ended) return;
        w.ended = true;
        done(err ?? null);
      },
    };
    // As the real Watch: aborting ends the watch with the abort reason.
    controller.signal.addEventListener('abort', () => w.end(controller.signal.reason), { once: true });
    this.opened.push(w);
    if (this.connecting) await this.connecting;
    return controller;
  }

  last(): OpenWatch {
    const w = this.opened[this.opened.length - 1];
    if (!w) throw new Error('no watch opened');
    return w;
  }

  active(): OpenWatch[] {
    return this.opened.filter((w) => !w.ended);
  }
}

/** A list function the test answers call by call. */
export class ScriptedList<T> {
  calls = 0;
  private waiting: Array<{ resolve: (v: { metadata: { resourceVersion: string }; items: T[] }) => void; reject: (e: unknown) => void }> = [];

  fn = (): Promise<{ metadata: { resourceVersion: string }; items: T[] }> => {
    this.calls++;
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  };

  pending(): number {
    return this.waiting.length;
  }
  respond(resourceVersion: string, items: T[]): void {
    const w = this.waiting.shift();
    if (!w) throw new Error('no list call waiting');
    w.resolve({ metadata: { resourceVersion }, items });
  }
  fail(err: unknown): void {
    const w = this.waiting.shift();
    if (!w) throw new Error('no list call waiting');
    w.reject(err);
  }
}

export function httpError(statusCode: number): Error {
  return Object.assign(new Error(`HTTP ${statusCode}`), { statusCode });
}
