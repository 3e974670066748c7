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
//   HMAC(K, m) = SHA256((K ⊕ opad) ‖ SHA256((K ⊕ ipad) ‖ m)),  K ≤ 64 bytes zero-padded to 64
import * as crypto from 'node:crypto';

const BLOCK = 64;
const DIGEST = 32;
/** Largest scratch a key keeps (messages here are addresses, phones, domains: a few hundred bytes). */
const MAX_SCRATCH = 4096;

/** crypto.hash(algorithm, data, 'buffer') where this Node has it. */
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

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
  if (!oneShot) return crypto.createHmac('sha256', key.fallback!).update(message, 'utf8').digest();
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
  oneShot('sha256', inner.subarray(0, BLOCK + n), 'buffer').copy(key.outer, BLOCK);
  // The message is often PII and the pad is as secret as the key: neither stays in bytes that are let go.
  if (inner === key.inner) inner.fill(0, BLOCK, BLOCK + n);
  else inner.fill(0);
  return oneShot('sha256', key.outer, 'buffer');
}
