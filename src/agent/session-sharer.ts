// Session sharing between the pods of one TicketKeySet (issue 14). The operator configures it
// (PUT /v1/session-sharing: on/off, ttl, bound, and the peers, which come only from the operator,
// never from the network). While it is on, the sharer reads the TLS sessions the local ATS
// creates (bridge.openSessionExport) in bursts, at most one every batch interval (the config's
// batchIntervalMs, else batchDelayMs; they wait in ATS's channel meanwhile, so batching needs no
// timer here and an idle pod's first session goes at once), and writes each burst as frames of
// ≤ SESSIONS_BATCH_MAX into a long-lived session stream to every peer's agent (POST
// /v1/sessions/stream, peer-stream.ts) over mutual TLS: its own serving certificate as client
// certificate, the peer's certificate verified against the CA bundle and the peer's identities. A
// peer from before streams (404) gets the batches as POST /v1/sessions instead.
// Sessions received from peers (either route, authorised in api-server.ts) are validated one by
// one and handed to ATS (bridge.importSessions), which validates them again.
//
// Session DER holds the master secret: as secret as a key. It is never logged, never in an error,
// status or metric; Buffers (frames included) are zeroed once used. Only a batch for a peer from
// before streams exists as a JS string (JSON, not zeroable) until its delivery settles.
//
// Bounds: a burst sends at most maxEntries sessions (the newest); per peer, at most
// min(maxEntries, PEER_BACKLOG_MAX_SESSIONS) sessions wait for its connection (written to its
// stream and not yet on the wire, or in its request backlog); beyond that a batch is dropped and
// counted. At most min(maxEntries, RECENT_IDS_MAX) ids are remembered for de-duplication.
// Received sessions waiting for ATS are at most PEER_BACKLOG_MAX_SESSIONS (a batch beyond is
// refused with 503, a stream frame beyond cuts the stream). Requests to peers from before streams:
// at most `concurrency` at once, one per peer, each cut off after timeoutMs; nothing is retried.
// Revoke: every executed session-cache flush sets notBefore to the second after it: sessions
// created before it are neither sent nor accepted any more.
import type { Readable } from 'node:stream';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS, SESSIONS_BATCH_MAX } from '../contract/agent-wire.ts';
import { SESSION_FUTURE_SKEW_SECONDS, SESSION_ID_MAX_BYTES, SESSION_IMPORT_MAX_SESSIONS, SESSION_MAX_DER_BYTES } from '../contract/plugin-wire.ts';
import { describeError } from '../observability/describe-error.ts';
import type { Logger } from '../observability/logger.ts';
import { ApiError } from './api-error.ts';
import { decodeSessionFrame, encodeSessionFrame, SessionFrameError, SessionFrameReader } from './session-frames.ts';
import type { AgentTls } from './api-server.ts';
import { AtsUnavailableError, type AtsBridge, type ExportedSession } from './ats-bridge.ts';
import { AgentClient, createAgentSecureContext } from './client.ts';
import { parseHostPort } from './host-port.ts';
import { PeerStream, StreamUnsupportedError } from './peer-stream.ts';
import { parseAgentIdentity } from './identity.ts';
import type { AgentMetrics, SessionSharingDirection } from './metrics.ts';
import {
  DEFAULT_SESSION_SHARING_CONFIG,
  SessionSharingConfig,
  SessionsBatch,
  sessionSharingConfigHash,
  type Peer,
  type SessionSharingStatus,
  type SessionsBatchResponse,
  type SharedSession,
} from './protocol.ts';

export interface SessionSharerOptions {
  bridge: AtsBridge;
  logger: Logger;
  metrics: AgentMetrics;
  /** The agent's own serving certificate and key (its client certificate towards peers) and the CA bundle. */
  tls: AgentTls;
  /**
   * Sessions are read from ATS at most once this often when the config names no batchIntervalMs
   * (default 40 ms): a burst is sent at once.
   */
  batchDelayMs?: number;
  /** Deliveries in flight over all peers (default 8). */
  concurrency?: number;
  /** Per delivery, the whole exchange (default 2000 ms). */
  timeoutMs?: number;
  /** The clock, in seconds since epoch (tests). */
  nowSeconds?: () => number;
}

/**
 * Hard caps under maxEntries (which the CRD allows up to 1,000,000), for the agent's 48 MB heap:
 * sessions waiting for one peer (a peer this far behind is as good as down), and ids remembered.
 * PEER_BACKLOG_MAX_SESSIONS also bounds the received sessions waiting to be imported into ATS.
 */
export const PEER_BACKLOG_MAX_SESSIONS = 8192;
/**
 * How often, at most, the sessions ATS made are read and sent (unless the config's batchIntervalMs
 * says otherwise). Every burst is a frame to each peer and an import into ATS on each receiver,
 * and much of the agent's work is per event rather than per session, so this bounds the work per
 * second (25 frames per peer) whatever the handshake rate; under load it is most of the
 * propagation delay (bench:sessions: p99 goal 100 ms).
 */
export const DEFAULT_BATCH_DELAY_MS = SESSION_SHARING_DEFAULT_BATCH_INTERVAL_MS;
export const RECENT_IDS_MAX = 65_536;
/** Frames of one incoming stream waiting for ATS before the stream is paused. */
export const STREAM_FRAMES_IN_FLIGHT = 4;

const check = { config: TypeCompiler.Compile(SessionSharingConfig), batch: TypeCompiler.Compile(SessionsBatch) };

interface Queued {
  id: Buffer;
  der: Buffer;
  time: number;
}

interface PeerLink {
  peer: Peer;
  key: string;
  /** The session stream to the peer (POST /v1/sessions/stream). */
  stream: PeerStream;
  /** Sessions written to the stream and not yet on the connection. */
  streaming: number;
  /** The peer predates session streams (404): batches go as POST /v1/sessions instead. */
  legacy: boolean;
  client: AgentClient;
  backlog: SessionsBatch[];
  /** Sessions in the backlog. */
  queued: number;
  busy: boolean;
  failing: boolean;
  closed: boolean;
}

type Counts = Record<SessionSharingDirection, number>;

export class SessionSharer {
  readonly #bridge: AtsBridge;
  readonly #logger: Logger;
  readonly #metrics: AgentMetrics;
  readonly #batchDelayMs: number;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #tls: AgentTls;
  #config: SessionSharingConfig = DEFAULT_SESSION_SHARING_CONFIG;
  #hash = sessionSharingConfigHash(DEFAULT_SESSION_SHARING_CONFIG);
  #notBefore = 0;
  readonly #counts: Counts = { exported: 0, sent: 0, received: 0, inserted: 0, dropped: 0, refused: 0 };
  /** Session ids (base64) seen lately (sent or received), oldest first, at most min(maxEntries, RECENT_IDS_MAX). */
  readonly #recent = new Set<string>();
  #links: PeerLink[] = [];
  #cursor = 0;
  #active = 0;
  #exportOpen = false;
  #closed = false;
  /** Received sessions waiting for the import in flight to finish (see #import). */
  #imports: Array<{ sessions: Array<{ id: Buffer; der: Buffer }>; resolve: () => void; reject: (err: unknown) => void }> = [];
  #importsWaiting = 0;
  #importing = false;
  /** PUTs apply one after the other. */
  #configuring: Promise<unknown> = Promise.resolve();

  constructor(options: SessionSharerOptions) {
    this.#bridge = options.bridge;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#tls = options.tls;
    this.#batchDelayMs = options.batchDelayMs ?? DEFAULT_BATCH_DELAY_MS;
    this.#concurrency = options.concurrency ?? 8;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#now = options.nowSeconds ?? (() => Date.now() / 1000);
  }

  status(): SessionSharingStatus {
    return { enabled: this.#config.enabled, configHash: this.#hash, peers: this.#config.peers.length, ...this.#counts };
  }

  /** Sessions created before this (unix s) are neither sent nor accepted: the second after the last flush. */
  get notBefore(): number {
    return this.#notBefore;
  }

  /** PUT /v1/session-sharing: replaces the whole configuration. */
  configure(body: unknown): Promise<SessionSharingStatus> {
    const next = this.#configuring.then(() => this.#apply(body));
    this.#configuring = next.catch(() => undefined);
    return next;
  }

  async #apply(body: unknown): Promise<SessionSharingStatus> {
    if (this.#closed) throw new ApiError(503, 'ats_unavailable', 'the agent is stopping');
    if (!check.config.Check(body)) throw new ApiError(400, 'bad_request', 'body is not a session-sharing configuration');
    const config = copyConfig(body);
    const names = new Set<string>();
    for (const p of config.peers) {
      if (names.has(p.name)) throw new ApiError(400, 'bad_request', 'peer names must be unique');
      names.add(p.name);
      try {
        parseHostPort(p.address);
      } catch {
        throw new ApiError(400, 'bad_request', 'a peer address is not ip:port');
      }
      // Only agent identities: the operator's (or any other) identity can never become a peer.
      if (!p.identities.every((i) => parseAgentIdentity(i) !== undefined)) throw new ApiError(400, 'bad_request', 'peer identities must be agent identities');
    }
    if (config.enabled && !this.#exportOpen) {
      const bridge = this.#bridge;
      if (!bridge.openSessionExport || !bridge.closeSessionExport || !bridge.importSessions) {
        throw new ApiError(409, 'sharing_disabled', "this agent's ATS bridge cannot share sessions");
      }
      try {
        await bridge.openSessionExport((sessions) => this.#onExport(sessions), { paceMs: this.#paceMs(config) });
      } catch (err) {
        if (err instanceof AtsUnavailableError) throw new ApiError(503, 'ats_unavailable', 'ATS is not reachable', 1);
        this.#logger.warn('session export could not be opened', { err: describeError(err) });
        throw new ApiError(409, 'sharing_disabled', 'the session export from ATS could not be opened (is the agent run with --session-fifo?)');
      }
      this.#exportOpen = true;
    } else if (config.enabled && this.#paceMs(config) !== this.#paceMs(this.#config)) {
      this.#bridge.setSessionExportPace?.(this.#paceMs(config));
    } else if (!config.enabled && this.#exportOpen) {
      this.#exportOpen = false;
      try {
        await this.#bridge.closeSessionExport?.();
      } catch (err) {
        this.#logger.warn('closing the session export failed', { err: describeError(err) });
      }
    }
    const before = this.#config;
    this.#config = config;
    this.#hash = sessionSharingConfigHash(config);
    if (!config.enabled) this.#dropQueued();
    this.#trimRecent();
    this.#relink(config.enabled ? config.peers : []);
    const paceMs = this.#paceMs(config);
    if (before.enabled !== config.enabled || before.peers.length !== config.peers.length || paceMs !== this.#paceMs(before)) {
      this.#logger.info('session sharing configured', {
        enabled: config.enabled,
        peers: config.peers.length,
        ttlSeconds: config.ttlSeconds,
        maxEntries: config.maxEntries,
        batchIntervalMs: paceMs,
      });
    }
    return this.status();
  }

  /** The export's pace: the config's batch interval, else the agent's default. */
  #paceMs(config: SessionSharingConfig): number {
    return config.batchIntervalMs ?? this.#batchDelayMs;
  }

  /**
   * Who may POST /v1/sessions(/stream): a peer of the current configuration (one of its identities among
   * the caller's URI SANs). Throws the refusal (counted) otherwise.
   */
  authorizePeer(callerUris: readonly string[]): Peer {
    const peer = this.#config.peers.find((p) => p.identities.some((i) => callerUris.includes(i)));
    if (!peer) {
      this.#count('refused', 1);
      throw new ApiError(403, 'forbidden', 'the client certificate names no peer of this agent');
    }
    if (!this.#config.enabled) {
      this.#count('refused', 1);
      throw new ApiError(409, 'sharing_disabled', 'session sharing is off on this agent');
    }
    return peer;
  }

  /** POST /v1/sessions from an authorised peer: validates every session, hands the valid ones to ATS. */
  async receive(body: unknown): Promise<SessionsBatchResponse> {
    if (!check.batch.Check(body)) {
      this.#count('refused', 1);
      throw new ApiError(400, 'bad_request', 'body is not a batch of sessions');
    }
    this.#requireEnabled();
    const decoded: Array<{ id: Buffer; der: Buffer; time: number } | undefined> = body.sessions.map((s) => decodeShared(s));
    return this.#accept(decoded);
  }

  /**
   * POST /v1/sessions/stream from a peer (its certificate's URI SANs, authorised by the guard):
   * frame after frame, each validated as it arrives and handed to ATS in arrival order. At most
   * STREAM_FRAMES_IN_FLIGHT frames of a stream wait for ATS; beyond that the request is paused
   * (TCP holds the peer back meanwhile). Read with 'data' events rather than an async iterator:
   * this is the agent's busiest path, and an iterator adds promises to every chunk. The peer is
   * authorised again whenever the configuration changed, so a peer that is dropped, or sharing
   * turned off, ends its stream. Every refusal rejects (the route, which already answered 200,
   * then cuts the connection): bytes that are not frames, a frame that is not a batch, a body
   * ending inside a frame or closed before its end. Resolves to the totals once the body ended
   * and every frame was handed over.
   */
  receiveStream(request: Readable, callerUris: readonly string[]): Promise<SessionsBatchResponse> {
    return new Promise((resolve, reject) => {
      const reader = new SessionFrameReader();
      const total = { accepted: 0, refused: 0 };
      let authorisedFor = this.#config;
      let inFlight = 0;
      let ended = false;
      let done = false;
      const finish = (err?: unknown): void => {
        if (done) return;
        done = true;
        // 'error' and 'close' stay handled (finish is idempotent): the route may still cut the
        // connection.
        request.off('data', onData).off('end', onEnd);
        reader.clear();
        if (err === undefined) resolve(total);
        else reject(err);
      };
      const refuse = (message: string): void => {
        this.#count('refused', 1);
        finish(new ApiError(400, 'bad_request', message));
      };
      const settleIfDone = (): void => {
        if (!ended || inFlight > 0) return;
        if (reader.pending > 0) refuse('the stream ended inside a frame');
        else finish();
      };
      const onData = (chunk: Buffer): void => {
        let frames: Buffer[];
        try {
          frames = reader.push(chunk);
        } catch (err) {
          if (!(err instanceof SessionFrameError)) return finish(err);
          return refuse('the body is not a stream of session frames');
        }
        for (const frame of frames) {
          if (done) {
            frame.fill(0);
            continue;
          }
          // Views into the frame, which is zeroed once they were handed over.
          let sessions: ReturnType<typeof decodeSessionFrame>;
          try {
            if (this.#config !== authorisedFor) {
              this.authorizePeer(callerUris);
              authorisedFor = this.#config;
            }
            this.#requireEnabled();
            sessions = decodeSessionFrame(frame);
          } catch (err) {
            frame.fill(0);
            finish(err);
            continue;
          }
          if (!sessions) {
            frame.fill(0);
            refuse('a frame of the stream is not a batch of sessions');
            continue;
          }
          inFlight++;
          this.#accept(sessions).then(
            (r) => {
              total.accepted += r.accepted;
              total.refused += r.refused;
            },
            finish,
          ).finally(() => {
            frame.fill(0);
            inFlight--;
            if (done) return;
            if (inFlight < STREAM_FRAMES_IN_FLIGHT && request.isPaused()) request.resume();
            settleIfDone();
          });
        }
        if (!done && inFlight >= STREAM_FRAMES_IN_FLIGHT) request.pause();
      };
      const onEnd = (): void => {
        ended = true;
        settleIfDone();
      };
      const onClose = (): void => {
        if (!ended) finish(new Error('the session stream closed before its end'));
      };
      request.on('data', onData).on('end', onEnd).on('error', finish).on('close', onClose);
    });
  }

  #requireEnabled(): void {
    if (!this.#config.enabled) {
      this.#count('refused', 1);
      throw new ApiError(409, 'sharing_disabled', 'session sharing is off on this agent');
    }
  }

  /**
   * Validates decoded sessions (undefined: one that did not even decode), remembers their ids and
   * hands the valid ones to ATS. Every buffer is zeroed before this returns.
   */
  async #accept(sessions: ReadonlyArray<{ id: Buffer; der: Buffer; time: number } | undefined>): Promise<SessionsBatchResponse> {
    const config = this.#config;
    this.#count('received', sessions.length);
    const now = this.#now();
    const valid: Array<{ id: Buffer; der: Buffer }> = [];
    let refused = 0;
    try {
      for (const s of sessions) {
        if (s && this.#valid(s, now, config.ttlSeconds)) valid.push(s);
        else refused++;
      }
      this.#count('refused', refused);
      if (valid.length > 0) {
        // Received ids are not sent on again should ATS report them as new.
        for (const v of valid) this.#remember(v.id.toString('base64'));
        try {
          await this.#import(valid);
        } catch (err) {
          this.#count('dropped', valid.length);
          if (err instanceof ApiError) throw err;
          if (err instanceof AtsUnavailableError) throw new ApiError(503, 'ats_unavailable', 'ATS is not reachable', 1);
          this.#logger.warn('handing received sessions to ATS failed', { err: describeError(err) });
          throw new ApiError(500, 'internal', 'handing the sessions to ATS failed');
        }
        this.#count('inserted', valid.length);
      }
      return { accepted: valid.length, refused };
    } finally {
      for (const s of sessions) {
        s?.der.fill(0);
        s?.id.fill(0);
      }
    }
  }

  /**
   * Hands sessions to ATS. One import runs at a time; the batches that arrive meanwhile (from any
   * peer) wait and go together in the next messages: each message costs ATS a relay through
   * traffic_manager, so under load the messages per second stay flat while each carries more.
   * A batch is never split across messages, so each caller learns the fate of its own sessions;
   * it resolves once they were handed over (the caller zeroes them after that, not before). At
   * most PEER_BACKLOG_MAX_SESSIONS wait: beyond that ATS is not keeping up, and the batch is
   * refused (503) rather than held.
   */
  #import(sessions: Array<{ id: Buffer; der: Buffer }>): Promise<void> {
    if (this.#importsWaiting + sessions.length > PEER_BACKLOG_MAX_SESSIONS) {
      return Promise.reject(new ApiError(503, 'ats_unavailable', 'ATS is not keeping up with the session imports; batch refused', 1));
    }
    return new Promise<void>((resolve, reject) => {
      this.#imports.push({ sessions, resolve, reject });
      this.#importsWaiting += sessions.length;
      if (!this.#importing) {
        // Started after this turn's I/O callbacks: frames from several peers that arrived together
        // go to ATS in one message (one write into the import FIFO).
        this.#importing = true;
        setImmediate(() => void this.#runImports());
      }
    });
  }

  async #runImports(): Promise<void> {
    try {
      while (this.#imports.length > 0) {
        // Whole batches (each ≤ SESSIONS_BATCH_MAX) packed into one message of ≤ SESSION_IMPORT_MAX_SESSIONS.
        const group = [this.#imports.shift()!];
        let n = group[0]!.sessions.length;
        while (this.#imports.length > 0 && n + this.#imports[0]!.sessions.length <= SESSION_IMPORT_MAX_SESSIONS) {
          const next = this.#imports.shift()!;
          group.push(next);
          n += next.sessions.length;
        }
        this.#importsWaiting -= n;
        try {
          // ttl and notBefore as of now: a flush while these waited refuses the older ones in ATS.
          await this.#bridge.importSessions!({ ttlSeconds: this.#config.ttlSeconds, notBefore: this.#notBefore, sessions: group.flatMap((w) => w.sessions) });
          for (const w of group) w.resolve();
        } catch (err) {
          for (const w of group) w.reject(err);
        }
      }
    } finally {
      this.#importing = false;
    }
  }

  /** Whether a decoded session is accepted: sizes, age against the ttl, and the last flush. */
  #valid(s: { id: Buffer; der: Buffer; time: number }, now: number, ttlSeconds: number): boolean {
    if (s.time > now + SESSION_FUTURE_SKEW_SECONDS) return false;
    if (now - s.time >= ttlSeconds) return false;
    if (s.time < this.#notBefore) return false;
    if (s.id.length < 1 || s.id.length > SESSION_ID_MAX_BYTES) return false;
    return s.der.length >= 1 && s.der.length <= SESSION_MAX_DER_BYTES;
  }

  /**
   * The agent is about to flush ATS's session cache (POST /v1/session-cache/flush, revoke):
   * sessions created up to now are no longer sent nor accepted.
   */
  flushing(): void {
    this.#notBefore = Math.max(this.#notBefore, Math.floor(this.#now()) + 1);
    this.#dropQueued();
  }

  /** New TLS material (the agent's files were reloaded): new connections to peers use it. */
  updateTls(tls: AgentTls): void {
    this.#tls = tls;
    const peers = this.#links.map((l) => l.peer);
    this.#relink([]);
    this.#relink(peers);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#configuring;
    this.#dropQueued();
    this.#relink([]);
    if (this.#exportOpen) {
      this.#exportOpen = false;
      await this.#bridge.closeSessionExport?.().catch((err: unknown) => this.#logger.debug('closing the session export failed', { err: describeError(err) }));
    }
  }

  /** A burst of new sessions from ATS: the ones to share are sent at once. */
  #onExport(sessions: ExportedSession[]): void {
    const config = this.#config;
    if (this.#closed || !config.enabled) {
      for (const s of sessions) s.der.fill(0);
      return;
    }
    this.#count('exported', sessions.length);
    const queue: Queued[] = [];
    for (const s of sessions) {
      if (s.time < this.#notBefore) {
        s.der.fill(0);
        this.#count('dropped', 1);
        continue;
      }
      const idKey = s.id.toString('base64');
      if (this.#recent.has(idKey) || this.#links.length === 0) {
        s.der.fill(0);
        continue;
      }
      this.#remember(idKey);
      queue.push({ id: s.id, der: s.der, time: s.time });
    }
    // The newest maxEntries of a burst at most; the older ones are dropped (counted).
    const over = queue.length - config.maxEntries;
    if (over > 0) {
      for (const q of queue.splice(0, over)) q.der.fill(0);
      this.#count('dropped', over);
    }
    if (queue.length > 0) this.#send(queue);
  }

  /**
   * Turns sessions into frames of ≤ SESSIONS_BATCH_MAX, each encoded once, written to every
   * peer's stream and zeroed when the last write settled. Peers that predate streams get the same
   * batch as JSON in their backlog (POST /v1/sessions).
   */
  #send(queue: Queued[]): void {
    const maxSessions = Math.min(this.#config.maxEntries, PEER_BACKLOG_MAX_SESSIONS);
    const maxBatches = Math.max(1, Math.ceil(maxSessions / SESSIONS_BATCH_MAX));
    while (queue.length > 0) {
      const taken = queue.splice(0, SESSIONS_BATCH_MAX);
      const n = taken.length;
      const legacy = this.#links.filter((l) => l.legacy);
      const batch: SessionsBatch | undefined =
        legacy.length > 0 ? { sessions: taken.map((q) => ({ id: q.id.toString('hex'), der: q.der.toString('base64'), time: q.time })) } : undefined;
      const frame = this.#links.length > legacy.length ? encodeSessionFrame(taken) : undefined;
      for (const q of taken) q.der.fill(0);
      let writes = 0;
      const settled = () => {
        if (--writes === 0) frame?.fill(0);
      };
      for (const link of this.#links) {
        if (link.legacy) {
          link.backlog.push(batch!);
          link.queued += n;
          while (link.backlog.length > maxBatches || (link.backlog.length > 1 && link.queued > maxSessions)) {
            const old = link.backlog.shift()!;
            link.queued -= old.sessions.length;
            this.#count('dropped', old.sessions.length);
          }
          continue;
        }
        if (link.streaming + n > maxSessions) {
          this.#count('dropped', n);
          continue;
        }
        writes++;
        link.streaming += n;
        link.stream.write(frame!).then(
          () => {
            link.streaming -= n;
            this.#count('sent', n);
            if (link.failing) this.#logger.info('session delivery to peer recovered', { peer: link.peer.name });
            link.failing = false;
            settled();
          },
          (err: unknown) => {
            link.streaming -= n;
            this.#count('dropped', n);
            if (err instanceof StreamUnsupportedError && !link.legacy && !link.closed) {
              link.legacy = true;
              this.#logger.info('peer has no session streams (an older agent): sending it batches as requests', { peer: link.peer.name });
            } else {
              this.#deliveryFailed(link, err);
            }
            settled();
          },
        );
      }
      if (writes === 0) frame?.fill(0);
    }
    this.#pump();
  }

  /** Once per failure streak: a dead peer must not flood the log. The error never carries session bytes. */
  #deliveryFailed(link: PeerLink, err: unknown): void {
    if (!link.failing && !link.closed) this.#logger.warn('session delivery to peer failed', { peer: link.peer.name, err: describeError(err) });
    link.failing = true;
  }

  /** Starts deliveries: at most `concurrency` at once, one per peer, peers in turn. */
  #pump(): void {
    while (this.#active < this.#concurrency && this.#links.length > 0) {
      let link: PeerLink | undefined;
      for (let i = 0; i < this.#links.length; i++) {
        const l = this.#links[(this.#cursor + i) % this.#links.length]!;
        if (!l.busy && l.backlog.length > 0) {
          link = l;
          this.#cursor = (this.#cursor + i + 1) % this.#links.length;
          break;
        }
      }
      if (!link) return;
      const batch = link.backlog.shift()!;
      link.queued -= batch.sessions.length;
      link.busy = true;
      this.#active++;
      void this.#deliver(link, batch).finally(() => {
        link.busy = false;
        this.#active--;
        this.#pump();
      });
    }
  }

  async #deliver(link: PeerLink, batch: SessionsBatch): Promise<void> {
    const n = batch.sessions.length;
    try {
      await link.client.postSessions(batch, { timeoutMs: this.#timeoutMs });
      this.#count('sent', n);
      if (link.failing) this.#logger.info('session delivery to peer recovered', { peer: link.peer.name });
      link.failing = false;
    } catch (err) {
      this.#count('dropped', n);
      this.#deliveryFailed(link, err);
    }
  }

  /** Keeps the links of unchanged peers, closes the others (their backlog is dropped), opens new ones. */
  #relink(peers: readonly Peer[]): void {
    const keep = new Map(this.#links.map((l) => [l.key, l]));
    const next: PeerLink[] = [];
    for (const peer of peers) {
      const key = JSON.stringify([peer.name, peer.address, peer.identities]);
      const old = keep.get(key);
      if (old) {
        keep.delete(key);
        next.push(old);
        continue;
      }
      next.push({ peer, key, ...this.#connect(peer), streaming: 0, legacy: false, backlog: [], queued: 0, busy: false, failing: false, closed: false });
    }
    for (const gone of keep.values()) {
      gone.closed = true;
      this.#count('dropped', gone.queued);
      gone.backlog = [];
      gone.queued = 0;
      void gone.client.close().catch(() => undefined);
      void gone.stream.close();
    }
    this.#links = next;
    this.#cursor = 0;
  }

  #secureContext: { tls: AgentTls; context: ReturnType<typeof createAgentSecureContext> } | undefined;

  /** The peer's session stream, and the client for the requests of peers that predate streams. */
  #connect(peer: Peer): { stream: PeerStream; client: AgentClient } {
    const tls = this.#tls;
    if (this.#secureContext?.tls !== tls) {
      this.#secureContext = { tls, context: createAgentSecureContext({ ca: tls.clientCa, cert: tls.cert, key: tls.key }) };
    }
    const secureContext = this.#secureContext.context;
    const { host, port } = parseHostPort(peer.address);
    const baseUrl = host.includes(':') ? `https://[${host}]:${port}` : `https://${host}:${port}`;
    return {
      stream: new PeerStream({ host, port, secureContext, identities: peer.identities, timeoutMs: this.#timeoutMs }),
      client: new AgentClient({
        baseUrl,
        tls: { ca: tls.clientCa, cert: tls.cert, key: tls.key, agentIdentities: peer.identities, secureContext },
        timeoutMs: this.#timeoutMs,
      }),
    };
  }

  #dropQueued(): void {
    for (const link of this.#links) {
      this.#count('dropped', link.queued);
      link.backlog = [];
      link.queued = 0;
    }
  }

  /** Remembers a session id (base64: the shortest string key). */
  #remember(idKey: string): void {
    this.#recent.delete(idKey);
    this.#recent.add(idKey);
    this.#trimRecent();
  }

  #trimRecent(): void {
    const max = Math.min(this.#config.maxEntries, RECENT_IDS_MAX);
    if (this.#recent.size <= max) return;
    for (const id of this.#recent) {
      if (this.#recent.size <= max) break;
      this.#recent.delete(id);
    }
  }

  #count(direction: SessionSharingDirection, n: number): void {
    if (n <= 0) return;
    this.#counts[direction] += n;
    this.#metrics.sessionSharing.inc({ direction }, n);
  }
}

function copyConfig(c: SessionSharingConfig): SessionSharingConfig {
  return {
    enabled: c.enabled,
    ttlSeconds: c.ttlSeconds,
    maxEntries: c.maxEntries,
    ...(c.batchIntervalMs === undefined ? {} : { batchIntervalMs: c.batchIntervalMs }),
    peers: c.peers.map((p) => ({ name: p.name, address: p.address, identities: [...p.identities] })),
  };
}

/** A JSON session (hex id, canonical base64 DER) as bytes; undefined when it is not that. */
function decodeShared(s: SharedSession): { id: Buffer; der: Buffer; time: number } | undefined {
  const id = Buffer.from(s.id, 'hex');
  if (id.length < 1 || id.length > SESSION_ID_MAX_BYTES || id.length * 2 !== s.id.length) return undefined;
  const der = Buffer.from(s.der, 'base64');
  // Canonical base64 only: the bytes must encode back to exactly what was sent.
  if (der.length < 1 || der.length > SESSION_MAX_DER_BYTES || der.toString('base64') !== s.der) {
    der.fill(0);
    id.fill(0);
    return undefined;
  }
  return { id, der, time: s.time };
}
