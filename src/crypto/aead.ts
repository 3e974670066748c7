// Authenticated encryption (AES-256-GCM) with a small versioned binary format,
// plus HKDF-SHA256 sub-key derivation. Everything here is node:crypto; no
// home-made primitives.
//
// Sealed format (version 1):
//   [0]      format byte, 0x01
//   [1..13)  96-bit random nonce
//   [13..29) 128-bit GCM tag
//   [29..)   ciphertext (same length as the plaintext)
//
// The format byte is itself authenticated (it is prepended to the caller's
// AAD), so it cannot be swapped for a future format without detection.
//
// Nonce budget: random 96-bit nonces are safe for up to 2^32 messages under
// one key (NIST SP 800-38D §8.3). Callers that may exceed that must rotate
// keys (see docs/security.md).
import { type KeyObject, createCipheriv, createDecipheriv, hkdfSync, randomFillSync } from 'node:crypto';

export const AEAD_FORMAT_V1 = 0x01;
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const HEADER_BYTES = 1 + NONCE_BYTES + TAG_BYTES;

const ALG = 'aes-256-gcm';

export type DecryptionFailure = 'malformed' | 'unsupported_format' | 'authentication_failed';

/**
 * Thrown when a sealed value cannot be opened: tampered ciphertext, wrong AAD,
 * wrong key, truncated or unknown format. The message never contains key or
 * plaintext material; `reason` only distinguishes structural problems from
 * authentication failure (which deliberately does not say *why*).
 */
export class DecryptionError extends Error {
  readonly code = 'DECRYPTION_FAILED' as const;
  readonly reason: DecryptionFailure;
  constructor(reason: DecryptionFailure, message?: string) {
    super(message ?? `decryption failed (${reason})`);
    this.name = 'DecryptionError';
    this.reason = reason;
  }
}

// Nonces come from the OS CSPRNG, fetched in 48 KiB batches: one
// randomFillSync call per 4096 nonces instead of one randomBytes call (~4.6 µs)
// per encryption. Every 12-byte slice is copied out exactly once and the pool
// is refilled before reuse; everything is synchronous, so no slice can be
// handed out twice (worker threads each get their own module instance).
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 4096);
let noncePoolOffset = NONCE_POOL.length;

/** The next unused nonce: a view into the pool, to be copied out before the next call. */
function nextNonce(): Buffer {
  if (noncePoolOffset >= NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePoolOffset = 0;
  }
  const start = noncePoolOffset;
  noncePoolOffset += NONCE_BYTES;
  return NONCE_POOL.subarray(start, start + NONCE_BYTES);
}

/** A 32-byte raw key, or a secret KeyObject created once and reused (faster for hot paths). */
export type AeadKey = Buffer | KeyObject;

// KeyObjects already checked: their type and size are native getters, asked on every seal otherwise.
const checkedKeys = new WeakSet<KeyObject>();

function checkKey(key: AeadKey): void {
  if (Buffer.isBuffer(key)) {
    if (key.length !== KEY_BYTES) throw new TypeError(`AES-256-GCM key must be ${KEY_BYTES} bytes`);
    return;
  }
  if (checkedKeys.has(key)) return;
  if (key.type !== 'secret' || key.symmetricKeySize !== KEY_BYTES) {
    throw new TypeError(`AES-256-GCM key must be a ${KEY_BYTES}-byte secret KeyObject`);
  }
  checkedKeys.add(key);
}

// format byte || utf8(aad), laid out in one reused buffer: setAAD consumes it before it returns, and AADs are
// not secret. Binding the format byte means a v1 body can never be reinterpreted under a future format.
// (An import seals two values per contact: allocating each AAD, and the plaintext's bytes, was two thirds of
// the Buffer pool churn of its encryption.)
let aadScratch = Buffer.allocUnsafe(1024);

function aadView(format: number, aad: string): Buffer {
  if (aadScratch.length < 1 + aad.length * 3) aadScratch = Buffer.allocUnsafe(1 + aad.length * 3);
  aadScratch[0] = format;
  return aadScratch.subarray(0, 1 + aadScratch.write(aad, 1, 'utf8'));
}

/** Encrypt `plaintext` under `key`, authenticating `aad`. Returns the version-1 sealed buffer. */
export function sealWithKey(key: AeadKey, plaintext: Buffer | string, aad: string): Buffer {
  return sealWithReserve(key, plaintext, aad, 0);
}

/**
 * sealWithKey, returning `reserve` uninitialised bytes followed by the sealed
 * value, so formats that add a header (field-cipher) avoid a second copy.
 * The caller must fill the reserved bytes.
 */
export function sealWithReserve(
  key: AeadKey,
  plaintext: Buffer | string,
  aad: string,
  reserve: number,
): Buffer {
  checkKey(key);
  if (!Number.isInteger(reserve) || reserve < 0)
    throw new RangeError('reserve must be a non-negative integer');
  const nonce = nextNonce();
  const cipher = createCipheriv(ALG, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadView(AEAD_FORMAT_V1, aad));
  // A string goes to the cipher as it is (encoded natively): no Buffer holding the plaintext is left behind.
  const body = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
  const fin = cipher.final();
  const out = Buffer.allocUnsafe(reserve + HEADER_BYTES + body.length + fin.length);
  out[reserve] = AEAD_FORMAT_V1;
  nonce.copy(out, reserve + 1);
  body.copy(out, reserve + HEADER_BYTES);
  if (fin.length) fin.copy(out, reserve + HEADER_BYTES + body.length);
  cipher.getAuthTag().copy(out, reserve + 1 + NONCE_BYTES);
  return out;
}

/** Decrypt a buffer produced by `sealWithKey`. Throws `DecryptionError` on any failure. */
export function openWithKey(key: AeadKey, sealed: Buffer, aad: string): Buffer {
  checkKey(key);
  if (!Buffer.isBuffer(sealed) || sealed.length < HEADER_BYTES) {
    throw new DecryptionError('malformed', 'decryption failed (sealed value too short)');
  }
  if (sealed[0] !== AEAD_FORMAT_V1) {
    throw new DecryptionError('unsupported_format', `decryption failed (unknown format byte ${sealed[0]})`);
  }
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const tag = sealed.subarray(1 + NONCE_BYTES, HEADER_BYTES);
  const decipher = createDecipheriv(ALG, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aadView(AEAD_FORMAT_V1, aad));
  decipher.setAuthTag(tag);
  const body = decipher.update(sealed.subarray(HEADER_BYTES));
  try {
    const fin = decipher.final();
    return fin.length ? Buffer.concat([body, fin]) : body;
  } catch {
    body.fill(0);
    throw new DecryptionError('authentication_failed');
  }
}

const HKDF_SALT = Buffer.from('mailwarden/hkdf/v1', 'utf8');

/**
 * Derive an independent 32-byte sub-key for `purpose` (e.g. 'totp-secrets',
 * 'blind-index', 'tracking-tokens') from a master secret with HKDF-SHA256
 * (RFC 5869). Different purposes give computationally unrelated keys; the
 * same (master, purpose) always gives the same key.
 *
 * The salt is a fixed, public domain-separation constant (the master is
 * already uniformly random, so RFC 5869 §3.1 allows a non-secret salt);
 * `purpose` goes into HKDF `info`.
 */
export function deriveKey(master: Buffer | KeyObject, purpose: string, length = KEY_BYTES): Buffer {
  const ok = Buffer.isBuffer(master)
    ? master.length >= KEY_BYTES
    : master?.type === 'secret' && (master.symmetricKeySize ?? 0) >= KEY_BYTES;
  if (!ok)
    throw new TypeError(`master key must be a Buffer or secret KeyObject of at least ${KEY_BYTES} bytes`);
  if (typeof purpose !== 'string' || purpose.length === 0) {
    throw new TypeError('deriveKey purpose must be a non-empty string');
  }
  if (!Number.isInteger(length) || length < 16 || length > 64) {
    throw new RangeError('deriveKey length must be an integer between 16 and 64');
  }
  return Buffer.from(hkdfSync('sha256', master, HKDF_SALT, Buffer.from(purpose, 'utf8'), length));
}
