// Blind indexes: exact-match search over encrypted fields (CipherSweet-style).
//
//   indexKey(workspace, name) = HKDF-SHA256(workspace blind-index root key, "blind-index/v1/" + name)
//   value                     = first `bits` bits of HMAC-SHA256(indexKey, UTF-8(normalised value))
//
// The root key is the workspace's 'blind-index' data key (field-cipher.ts), so
// indexes of two workspaces, and the email / phone / domain indexes of one
// workspace, are computed under unrelated keys.
//
// Truncation makes the index a Bloom-filter-like *candidate set*, not a
// fingerprint: a lookup `WHERE workspace_id = $1 AND email_bidx = $2` returns
// the true matches plus about C unrelated rows (C = coincidence count below).
// Callers MUST decrypt the candidates and compare normalised plaintexts to drop
// the false positives (`filterCandidates`). Never put a UNIQUE constraint on a
// blind-index column: distinct values legitimately share index values.
//
// Column type: the value is returned as a JS number in [0, 2^bits) with bits
// capped at 31, so it always fits a Postgres `integer` (int4) column: fixed 4
// bytes, no varlena header, the smallest and fastest btree key, and exact in a
// JS number (no bigint/hex conversion on either side). 31 bits is enough for
// any population the guidance below allows (C ≥ 2 needs R ≥ 2^(bits+1)).
import type { KeyObject } from 'node:crypto';
import { deriveKey } from './aead.ts';
import type { Keyring } from './field-cipher.ts';
import { type HmacSha256Key, hmacSha256Key, hmacSha256Prefix32 } from './hmac.ts';

export const BLIND_INDEX_MAX_BITS = 31;
export const BLIND_INDEX_MIN_BITS = 1;

const INDEX_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const derived = new WeakMap<object, Map<string, HmacSha256Key>>();

function indexKey(root: Buffer | KeyObject, indexName: string): HmacSha256Key {
  let byName = derived.get(root);
  if (!byName) {
    byName = new Map();
    derived.set(root, byName);
  }
  let key = byName.get(indexName);
  if (!key) {
    const raw = deriveKey(root, `blind-index/v1/${indexName}`);
    key = hmacSha256Key(raw);
    raw.fill(0);
    byName.set(indexName, key);
  }
  return key;
}

/**
 * Blind index of an already-normalised value (see src/contacts/normalize.ts;
 * normalise first, or 'A@x.com' and 'a@x.com' get different indexes).
 *
 * `key` is the workspace blind-index root key (`keyring.blindIndexKey()`);
 * per-index keys are derived from it and cached per key object, so pass the
 * same object each time and never mutate a key Buffer after use.
 */
export function blindIndex(
  key: Buffer | KeyObject,
  indexName: string,
  normalisedValue: string,
  bits: number,
): number {
  if (!INDEX_NAME.test(indexName))
    throw new TypeError(`invalid blind index name ${JSON.stringify(indexName)}`);
  if (!Number.isInteger(bits) || bits < BLIND_INDEX_MIN_BITS || bits > BLIND_INDEX_MAX_BITS) {
    throw new RangeError(
      `blind index bits must be an integer between ${BLIND_INDEX_MIN_BITS} and ${BLIND_INDEX_MAX_BITS}`,
    );
  }
  if (typeof normalisedValue !== 'string' || normalisedValue.length === 0) {
    // An index over "" would put every empty value in one bucket; store NULL instead.
    throw new TypeError('blind index value must be a non-empty string (store NULL for missing values)');
  }
  // Top `bits` bits of the MAC's first 4 bytes, as an unsigned integer.
  return hmacSha256Prefix32(indexKey(key, indexName), normalisedValue) >>> (32 - bits);
}

/** The value to write into the index column (active blind-index key). */
export function blindIndexForWrite(
  keyring: Keyring,
  indexName: string,
  normalisedValue: string,
  bits: number,
): number {
  return blindIndex(keyring.blindIndexKey(), indexName, normalisedValue, bits);
}

/**
 * Values to look up (`WHERE col = ANY($values)`): one per loaded blind-index key
 * (the active one, plus any key still 'retiring' during an index-key rotation),
 * de-duplicated.
 */
export function blindIndexLookupValues(
  keyring: Keyring,
  indexName: string,
  normalisedValue: string,
  bits: number,
): number[] {
  const out = new Set<number>();
  for (const { key } of keyring.blindIndexKeys()) out.add(blindIndex(key, indexName, normalisedValue, bits));
  return [...out];
}

/**
 * Drop false positives from a candidate set: keeps rows whose decrypted,
 * normalised value equals the searched one. `plaintextOf` decrypts (and, if
 * stored un-normalised, normalises) the candidate's value.
 */
export function filterCandidates<T>(
  candidates: readonly T[],
  plaintextOf: (candidate: T) => string | null,
  normalisedValue: string,
): T[] {
  return candidates.filter((c) => plaintextOf(c) === normalisedValue);
}

export interface BlindIndexShape {
  /** Output length L_i in bits. */
  bits: number;
  /** Entropy of the input domain K_i in bits (default: unbounded). */
  keyspaceBits?: number;
}

/**
 * CipherSweet's coincidence count: C = R / 2^(Σ min(L_i, K_i)) over every blind
 * index computed from the same field (e.g. email and email-domain).
 * C is the expected number of *other* rows sharing a row's index values.
 */
export function coincidenceCount(population: number, indexes: readonly BlindIndexShape[]): number {
  let exponent = 0;
  for (const ix of indexes) exponent += Math.min(ix.bits, ix.keyspaceBits ?? Number.POSITIVE_INFINITY);
  return Math.max(1, population) / 2 ** exponent;
}

export interface BlindIndexPlan {
  /** Recommended bits: the largest L keeping C ≥ 2 (fewest false positives without fingerprints). */
  bits: number;
  /** Smallest L with C < sqrt(R); fewer bits makes the index little better than a scan. */
  minBits: number;
  /** Largest L with C ≥ 2. */
  maxBits: number;
  /** Expected coincidences per lookup at `bits` (≈ false positives to decrypt and drop). */
  coincidences: number;
}

/**
 * Bits for a new blind index over `population` rows (the workspace's expected
 * number of contacts), following CipherSweet's guidance 2 ≤ C < sqrt(R).
 * `otherIndexBits` = Σ min(L, K) of the other indexes computed from the same
 * field. Solving C = R / 2^(L + other):
 *   C ≥ 2        ⇔  L ≤ log2(R) − 1 − other          (maxBits)
 *   C < sqrt(R)  ⇔  L > log2(R) / 2 − other          (minBits)
 * Example: R = 1,000,000 → maxBits 18 (C ≈ 3.8), minBits 10.
 */
export function recommendBlindIndexBits(
  population: number,
  opts: { otherIndexBits?: number } = {},
): BlindIndexPlan {
  if (!Number.isFinite(population) || population < 1) throw new RangeError('population must be ≥ 1');
  const other = opts.otherIndexBits ?? 0;
  const log2R = Math.log2(population);
  const clamp = (b: number) => Math.min(BLIND_INDEX_MAX_BITS, Math.max(BLIND_INDEX_MIN_BITS, b));
  const maxBits = clamp(Math.floor(log2R - 1 - other));
  const minBits = Math.min(maxBits, clamp(Math.floor(log2R / 2 - other) + 1));
  return { bits: maxBits, minBits, maxBits, coincidences: population / 2 ** (maxBits + other) };
}
