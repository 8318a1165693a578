// One connection pool to the API server for the whole operator. client-node 2.0 builds a new
// undici Agent for every request (KubeConfig.applySecurityAuthentication → createDispatcher),
// so each request opened its own TCP and TLS connection, and parsed the CA bundle and client key
// again: at 1000 TicketKeySets that was a fresh handshake for every Secret read and write, on
// the operator and on the API server (bench:scale). client-go keeps one transport per TLS
// configuration; so does this: the dispatcher is reused while the TLS material client-node reads
// for the request is the same, and replaced, the old one closing in the background once its
// requests end (watches included), when it changes (a renewed client certificate).
import { createHash } from 'node:crypto';
import type { AgentOptions } from 'node:https';
import type { Cluster, KubeConfig } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';

export interface SharedApiServerConnections {
  /** How many dispatchers were built (a new one per change of TLS material). */
  readonly built: number;
  /** Ends the current dispatcher's connections at once: for shutdown, once its users stopped. */
  close(): Promise<void>;
}

/** KubeConfig's own (private in its types, the one place every request gets its dispatcher). */
type CreateDispatcher = (cluster: Cluster | null, agentOptions: AgentOptions) => Dispatcher | undefined;

/**
 * Makes every request made through `kc` (API clients, watches) share one keep-alive dispatcher
 * per TLS material. `onCloseError` hears about an old dispatcher that failed to close.
 */
export function shareApiServerConnections(kc: KubeConfig, onCloseError: (err: unknown) => void = () => {}): SharedApiServerConnections {
  const target = kc as unknown as { createDispatcher: CreateDispatcher };
  if (typeof target.createDispatcher !== 'function') throw new Error('this @kubernetes/client-node has no KubeConfig.createDispatcher to share connections through');
  const build = target.createDispatcher.bind(kc);
  let current: { key: string; dispatcher: Dispatcher | undefined } | undefined;
  let built = 0;
  target.createDispatcher = (cluster, agentOptions) => {
    const key = materialKey(kc.createDispatcherOptions(cluster, agentOptions));
    if (current?.key === key) return current.dispatcher;
    const old = current?.dispatcher;
    current = { key, dispatcher: build(cluster, agentOptions) };
    built++;
    if (old) void old.close().catch(onCloseError);
    return current.dispatcher;
  };
  return {
    get built() {
      return built;
    },
    async close() {
      const d = current?.dispatcher;
      current = undefined;
      await d?.destroy();
    },
  };
}

/** A digest of the dispatcher's options (keys included): equal digests, same connections. */
function materialKey(options: ReturnType<KubeConfig['createDispatcherOptions']>): string {
  const hash = createHash('sha256');
  const add = (value: unknown): void => {
    if (value === undefined || value === null) hash.update('\0u');
    else if (Buffer.isBuffer(value) || typeof value === 'string') hash.update(`\0${typeof value}${value.length}:`).update(value);
    else if (Array.isArray(value)) {
      hash.update(`\0[${value.length}`);
      for (const v of value) add(v);
    } else if (typeof value === 'object') {
      for (const k of Object.keys(value).sort()) {
        hash.update(`\0k${k}`);
        add((value as Record<string, unknown>)[k]);
      }
    } else hash.update(`\0${typeof value}:${String(value)}`);
  };
  add(options);
  return hash.digest('hex');
}
