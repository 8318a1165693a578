// One 48-byte ATS session-ticket key (name[16] | hmac_secret[16] | aes_key[16]) behind a
// wrapper that only ever shows its fingerprint: JSON, util.inspect, String() and jest's
// pretty-format all go through toJSON/inspect, so a key that ends up in a log line, an error,
// a status object or a snapshot shows "KeyMaterial(3f2a…)" instead of its bytes.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { KEY_NAME_BYTES } from '../contract/keys.ts';
import { KEY_BYTES, keyFingerprint } from './fingerprint.ts';

export { KEY_NAME_BYTES };

/** A source of random bytes. Production uses the CSPRNG; tests inject a seeded one. */
export type RandomSource = (size: number) => Uint8Array;

export const cryptoRandom: RandomSource = (size) => randomBytes(size);

/** Thrown when destroyed (zeroed) key material is used: a zeroed key must never be pushed. */
export class KeyDestroyedError extends Error {
  override name = 'KeyDestroyedError';
}

const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

export class KeyMaterial {
  /** 16 hex chars (see fingerprint.ts); safe to show anywhere. */
  readonly fingerprint: string;
  // A private field: invisible to JSON, inspect, Object.keys and jest's equality/printing.
  #bytes: Buffer;
  #destroyed = false;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
    this.fingerprint = keyFingerprint(bytes);
  }

  /** Copies the bytes in; the caller keeps (and may zero) its own buffer. */
  static fromBytes(bytes: Uint8Array): KeyMaterial {
    if (bytes.length !== KEY_BYTES) {
      throw new RangeError(`a ticket key is exactly ${KEY_BYTES} bytes, got ${bytes.length}`);
    }
    return new KeyMaterial(Buffer.from(bytes));
  }

  /** A fresh key: every byte random, the 16-byte key name included. */
  static generate(random: RandomSource = cryptoRandom): KeyMaterial {
    const raw = random(KEY_BYTES);
    if (raw.length !== KEY_BYTES) throw new RangeError(`random source returned ${raw.length} bytes, wanted ${KEY_BYTES}`);
    const key = new KeyMaterial(Buffer.from(raw));
    raw.fill(0);
    return key;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** A copy of the 48 bytes. The caller owns it and should zero it when done. */
  copyBytes(): Buffer {
    this.#assertAlive();
    return Buffer.from(this.#bytes);
  }

  /** Writes the 48 bytes into `target` at `offset` (used to build a ring without extra copies). */
  copyInto(target: Uint8Array, offset: number): void {
    this.#assertAlive();
    target.set(this.#bytes, offset);
  }

  /** Same 16-byte key name: ATS picks the decrypting key by name, so names must be unique in a ring. */
  hasSameName(other: KeyMaterial): boolean {
    this.#assertAlive();
    other.#assertAlive();
    return timingSafeEqual(this.#bytes.subarray(0, KEY_NAME_BYTES), other.#bytes.subarray(0, KEY_NAME_BYTES));
  }

  /** Constant-time comparison of the full 48 bytes. */
  equals(other: KeyMaterial): boolean {
    this.#assertAlive();
    other.#assertAlive();
    return timingSafeEqual(this.#bytes, other.#bytes);
  }

  /** Overwrites the bytes with zeros; every later use throws KeyDestroyedError. Idempotent. */
  destroy(): void {
    this.#bytes.fill(0);
    this.#destroyed = true;
  }

  toJSON(): { fingerprint: string } {
    return { fingerprint: this.fingerprint };
  }

  toString(): string {
    return `KeyMaterial(${this.fingerprint}${this.#destroyed ? ', destroyed' : ''})`;
  }

  [inspectCustom](): string {
    return this.toString();
  }

  #assertAlive(): void {
    if (this.#destroyed) throw new KeyDestroyedError(`key ${this.fingerprint} was destroyed and cannot be used`);
  }
}

/** Overwrites every buffer with zeros (key bytes that were copied out for I/O). */
export function zeroize(...buffers: Uint8Array[]): void {
  for (const b of buffers) b.fill(0);
}
