// What every holder of a ticket key agrees on: the operator's core, the agent, the CLI and the
// C bridge plugin (through the generated src/ats-plugin/ticketkeys_contract.h). Plain
// constants and types, no imports: the pure core can depend on it.

/** An ATS session-ticket key: key name (16) | HMAC secret (16) | AES key (16). */
export const KEY_BYTES = 48;
/** The key-name prefix of a key; travels in clear inside every ticket. */
export const KEY_NAME_BYTES = 16;
/** Upper bound of keys in one ring: the operator, the agent and the bridge plugin enforce it. */
export const MAX_RING_KEYS = 16;

/** Domain separators of the key and ring fingerprints (SHA-256 over domain, NUL, bytes). */
export const KEY_FINGERPRINT_DOMAIN = 'ticketkeys.dev/key/v1';
export const RING_FINGERPRINT_DOMAIN = 'ticketkeys.dev/ring/v1';
/** A fingerprint is 8 bytes, written as this many lower-case hex characters. */
export const FINGERPRINT_HEX_LENGTH = 16;
/** JSON Schema pattern of a key or ring fingerprint (status, agent API). */
export const FINGERPRINT_PATTERN = `^[0-9a-f]{${FINGERPRINT_HEX_LENGTH}}$`;
/** FINGERPRINT_PATTERN as a RegExp, for hand-written parsers. */
export const FINGERPRINT_RE = new RegExp(FINGERPRINT_PATTERN);

/** staged: decrypt-only, waiting for every pod; active: encrypts; retired: decrypt-only until it expires. */
export const KEY_STATES = ['staged', 'active', 'retired'] as const;
export type KeyState = (typeof KEY_STATES)[number];
