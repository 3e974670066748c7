// HMAC-SHA256 (RFC 2104) for hot paths that compute one MAC per value — the
// blind indexes of an import compute two per contact.
//
// Why not createHmac: each call creates a native Hmac object whose JS wrapper
// is tracked by a weak handle, and V8 processes every such handle when a
// scavenge finds it dead. Measured in an import's worker thread, those weak
// handles (from Hmac and Cipheriv objects) took ~2 ms of each ~5 ms scavenge.
// crypto.hash (Node ≥ 20.12) is a one-shot digest with no object at all, so
// HMAC is computed here as its definition, from two SHA-256 digests over the
// key's padded blocks, which node:crypto computes. `createHmac` stays the
// fallback and the reference: the tests compare both on random keys and
// messages.
//
// The digests come back as latin1 strings (one char per byte), not Buffers: a
// Buffer from native code has an ArrayBuffer and a malloc'd backing store of
// its own, which the garbage collector's helper threads later sweep and free.
// Per HMAC that was ~4 µs of CPU across threads against ~0.9 µs for the
// string form (src/crypto/micro-bench.ts), and a blind index needs only the
// first four bytes anyway.
//
//   HMAC(K, m) = SHA256((K ⊕ opad) ‖ SHA256((K ⊕ ipad) ‖ m)),  K ≤ 64 bytes zero-padded to 64
import * as crypto from 'node:crypto';

const BLOCK = 64;
const DIGEST = 32;
/** Largest scratch a key keeps (messages here are addresses, phones, domains: a few hundred bytes). */
const MAX_SCRATCH = 4096;

/** crypto.hash(algorithm, data, 'binary') where this Node has it: the digest as a latin1 string, one char per byte. */
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'binary') => string }).hash;

/** A key prepared once for many MACs. */
export interface HmacSha256Key {
  /** K ⊕ ipad, followed by room for the message (grown when a longer one comes). */
  inner: Buffer;
  /** K ⊕ opad, then the inner digest. */
  outer: Buffer;
  /** The key for the createHmac fallback (a Node without crypto.hash), else null. */
  fallback: crypto.KeyObject | null;
}

/**
 * Prepare a key (at most one SHA-256 block, 64 bytes: every key here is 32). The padded copies are as
 * secret as the key; `raw` itself is not kept, so the caller may zero it.
 */
export function hmacSha256Key(raw: Buffer): HmacSha256Key {
  if (!Buffer.isBuffer(raw) || raw.length === 0 || raw.length > BLOCK)
    throw new RangeError(`HMAC key must be 1–${BLOCK} bytes`);
  const inner = Buffer.alloc(BLOCK + 256, 0);
  const outer = Buffer.alloc(BLOCK + DIGEST, 0);
  raw.copy(inner);
  raw.copy(outer);
  for (let i = 0; i < BLOCK; i++) {
    inner[i] ^= 0x36;
    outer[i] ^= 0x5c;
  }
  return { inner, outer, fallback: oneShot ? null : crypto.createSecretKey(Buffer.from(raw)) };
}

/** HMAC-SHA256 of `message` (UTF-8) under a prepared key: a fresh 32-byte Buffer. */
export function hmacSha256(key: HmacSha256Key, message: string): Buffer {
  return Buffer.from(hmacSha256Latin1(key, message), 'latin1');
}

/** The first four bytes of HMAC-SHA256(key, message) as an unsigned 32-bit integer (big-endian). */
export function hmacSha256Prefix32(key: HmacSha256Key, message: string): number {
  const mac = hmacSha256Latin1(key, message);
  return (
    ((mac.charCodeAt(0) << 24) | (mac.charCodeAt(1) << 16) | (mac.charCodeAt(2) << 8) | mac.charCodeAt(3)) >>> 0
  );
}

/** HMAC-SHA256 of `message` (UTF-8) as a 32-char latin1 string, one char per byte. */
function hmacSha256Latin1(key: HmacSha256Key, message: string): string {
  if (!oneShot) return crypto.createHmac('sha256', key.fallback!).update(message, 'utf8').digest('binary');
  // Each key's scratch bytes are only touched inside this synchronous call, so reusing them is safe. They grow
  // to fit the longest message up to MAX_SCRATCH; a longer one gets scratch bytes of its own, zeroed after.
  const need = BLOCK + message.length * 3;
  let inner = key.inner;
  if (inner.length < need) {
    inner = Buffer.alloc(need);
    key.inner.copy(inner, 0, 0, BLOCK);
    if (need <= MAX_SCRATCH) {
      key.inner.fill(0);
      key.inner = inner;
    }
  }
  const n = inner.write(message, BLOCK, 'utf8');
  key.outer.write(oneShot('sha256', inner.subarray(0, BLOCK + n), 'binary'), BLOCK, 'latin1');
  // The message is often PII and the pad is as secret as the key: neither stays in bytes that are let go.
  if (inner === key.inner) inner.fill(0, BLOCK, BLOCK + n);
  else inner.fill(0);
  return oneShot('sha256', key.outer, 'binary');
}
