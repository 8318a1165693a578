// A real TLS client (node:tls is OpenSSL) that proves session resumption against ATS.
//
//   const first = await tlsProbe({ host, port, tls: '1.3' });            // full handshake
//   first.newSession       the session to resume with (TLS 1.3: from the post-handshake ticket)
//   first.ticketKeyName    hex of the ticket's first 16 bytes = key_name of the STEK that made it
//   const again = await tlsProbe({ host, port, tls: '1.3', session: first.newSession });
//   again.resumed          true when the server accepted the ticket
//
//   sessionIdOnly: true    TLS 1.2 session-id resumption (client sends no ticket extension, like
//                          `openssl s_client -no_ticket`); result.sessionId is the id (hex) the
//                          server's session cache holds.
//
// Node offers a session only to the server identity it was made for (servername, else host):
// to resume on another instance with a ticket from the first, give both probes one `servername`
// (as clients of replicas behind one DNS name do).
//
// Each probe makes one connection, sends `GET /` (so the server flushes its TLS 1.3 tickets and
// the origin path is exercised), reads until the server closes, and reports. Never throws for a
// refused resumption: `resumed: false` is a result.
import { constants } from 'node:crypto';
import { connect } from 'node:tls';

export type TlsVersion = '1.2' | '1.3';

export interface TlsProbeOptions {
  host: string;
  port: number;
  tls: TlsVersion;
  /** Session (from a previous probe's newSession) to offer for resumption. */
  session?: Buffer;
  /** TLS 1.2 only: no session tickets, resumption by session id. */
  sessionIdOnly?: boolean;
  /** Verify the server against this CA (PEM). Without it the certificate is not checked. */
  ca?: string;
  servername?: string;
  /** Default 5000 ms. */
  timeoutMs?: number;
}

export interface TlsProbeResult {
  /** The server resumed the offered session (abbreviated handshake / PSK). */
  resumed: boolean;
  /** 'TLSv1.2' | 'TLSv1.3'. */
  protocol: string;
  /** The last session the server issued on this connection; undefined if it issued none. */
  newSession: Buffer | undefined;
  /** Hex key_name (first 16 bytes) of newSession's ticket, if it has one. */
  ticketKeyName: string | undefined;
  /** Hex session id of newSession (TLS 1.2 session-id mode: the server cache's key). */
  sessionId: string | undefined;
  /** Number of sessions (tickets) the server issued on this connection. */
  sessionsIssued: number;
  /** HTTP status line of the response (proves the request went through ATS). */
  statusLine: string;
}

export function tlsProbe(options: TlsProbeOptions): Promise<TlsProbeResult> {
  if (options.sessionIdOnly && options.tls !== '1.2') throw new Error('sessionIdOnly applies to TLS 1.2 only');
  const version = options.tls === '1.2' ? 'TLSv1.2' : 'TLSv1.3';
  return new Promise((resolve, reject) => {
    const sessions: Buffer[] = [];
    let resumed = false;
    let protocol = '';
    let response = '';
    let settled = false;
    const socket = connect({
      host: options.host,
      port: options.port,
      servername: options.servername,
      minVersion: version,
      maxVersion: version,
      session: options.session,
      ca: options.ca,
      rejectUnauthorized: options.ca !== undefined,
      secureOptions: options.sessionIdOnly ? constants.SSL_OP_NO_TICKET : 0,
    });
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) {
        reject(err);
        return;
      }
      const newSession = sessions.at(-1);
      let parsed: ReturnType<typeof parseSession> | undefined;
      try {
        parsed = newSession ? parseSession(newSession) : undefined;
      } catch (parseErr) {
        reject(parseErr as Error);
        return;
      }
      resolve({
        resumed,
        protocol,
        newSession,
        ticketKeyName: parsed?.ticket && parsed.ticket.length >= 16 ? parsed.ticket.subarray(0, 16).toString('hex') : undefined,
        sessionId: parsed?.sessionId && parsed.sessionId.length > 0 ? parsed.sessionId.toString('hex') : undefined,
        sessionsIssued: sessions.length,
        statusLine: response.split('\r\n')[0] ?? '',
      });
    };
    const timer = setTimeout(() => finish(new Error(`TLS probe to ${options.host}:${options.port} timed out`)), options.timeoutMs ?? 5000);
    socket.on('session', (s: Buffer) => sessions.push(s));
    socket.once('secureConnect', () => {
      resumed = socket.isSessionReused();
      protocol = socket.getProtocol() ?? '';
      socket.write(`GET / HTTP/1.1\r\nHost: ${options.servername ?? options.host}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (d: Buffer) => {
      response += d.toString('latin1');
    });
    socket.once('error', (err) => finish(err));
    // 'close' follows the server's close after the response; TLS 1.3 tickets came before it.
    socket.once('close', () => (protocol ? finish() : finish(new Error('connection closed before the handshake completed'))));
  });
}

/** Full handshake; returns the session and the key name of its ticket. */
export function connectAndGetSession(options: Omit<TlsProbeOptions, 'session'>): Promise<TlsProbeResult> {
  return tlsProbe(options);
}

/** Offers `session` for resumption. */
export function resumeWithSession(options: Omit<TlsProbeOptions, 'session'>, session: Buffer): Promise<TlsProbeResult> {
  return tlsProbe({ ...options, session });
}

// ---- SSL_SESSION DER (OpenSSL ssl/ssl_asn1.c): SEQUENCE { version, ssl_version, cipher,
// session_id OCTET STRING, master_key, ..., [10] EXPLICIT OCTET STRING ticket, ... }

interface Tlv {
  tag: number;
  start: number; // content start
  end: number; // content end
}

function readTlv(buf: Buffer, at: number): Tlv {
  const tag = buf[at];
  let len = buf[at + 1];
  if (tag === undefined || len === undefined) throw new Error('truncated DER');
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] ?? 0);
    start += n;
  }
  if (start + len > buf.length) throw new Error('truncated DER');
  return { tag, start, end: start + len };
}

const NODE_SESSION_MAGIC = Buffer.from('\0nodejs:tls:session:', 'latin1');

/**
 * Node 22 wraps the DER: "\0nodejs:tls:session:<n>\0", a u16 BE length + the session's host
 * name, then i2d_SSL_SESSION. Older Nodes emit the bare DER.
 */
function sessionDer(session: Buffer): Buffer {
  if (!session.subarray(0, NODE_SESSION_MAGIC.length).equals(NODE_SESSION_MAGIC)) return session;
  const nul = session.indexOf(0, NODE_SESSION_MAGIC.length);
  if (nul < 0 || nul + 3 > session.length) throw new Error('unrecognised node session format');
  const nameLen = session.readUInt16BE(nul + 1);
  return session.subarray(nul + 3 + nameLen);
}

/** The session id and ticket of an OpenSSL session as node exports it. */
export function parseSession(session: Buffer): { sessionId: Buffer | undefined; ticket: Buffer | undefined } {
  const der = sessionDer(session);
  const seq = readTlv(der, 0);
  if (seq.tag !== 0x30) throw new Error('session is not a DER SEQUENCE');
  let at = seq.start;
  let index = 0;
  let sessionId: Buffer | undefined;
  let ticket: Buffer | undefined;
  while (at < seq.end) {
    const el = readTlv(der, at);
    if (index === 3 && el.tag === 0x04) sessionId = der.subarray(el.start, el.end);
    if (el.tag === 0xaa) {
      const inner = readTlv(der, el.start); // [10] EXPLICIT → OCTET STRING
      if (inner.tag === 0x04) ticket = der.subarray(inner.start, inner.end);
    }
    at = el.end;
    index++;
  }
  return { sessionId, ticket };
}
