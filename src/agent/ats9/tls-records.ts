// ATS 9.2's own session-ticket counters (SSLStats.cc, incremented in the ticket-key callback of
// SSLUtils.cc): read with RECORD_GET like any other stat. Verified against the names in the
// Debian 9.2 traffic_server binary and by reading them from a running ATS (test/e2e/operator-ats-resumption.test.ts).
export const TLS_TICKET_RECORDS = {
  /** No key in the ring matched the ticket's key name: the resumption fell back to a full handshake. */
  ticketsNotFound: 'proxy.process.ssl.total_tickets_not_found',
  /** Decrypted with a key other than keys[0]: resumed, and the ticket renewed under the active key. */
  ticketsVerifiedOldKey: 'proxy.process.ssl.total_tickets_verified_old_key',
} as const;
