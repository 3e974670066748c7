// The small codec the contact tables use, with no database in sight: field
// encryption with a fixed AAD layout, blind indexes with the bit budget chosen
// in docs/security.md, the suppression hash and UUIDv7 ids. The import's worker
// thread loads this and not vault.ts (whose Vault reads the key rows), so it
// does not load drizzle, node-postgres or PGlite to encrypt a row.
import { randomFillSync } from 'node:crypto';
import { deriveKey } from '../crypto/aead.ts';
import {
  blindIndexForWrite,
  blindIndexLookupValues,
  recommendBlindIndexBits,
} from '../crypto/blind-index.ts';
import { decryptFieldText, encryptField, fieldPlaintextBytes, type Keyring } from '../crypto/field-cipher.ts';
import { type HmacSha256Key, hmacSha256, hmacSha256Key } from '../crypto/hmac.ts';

/** Self-hosted: one workspace (the row seeded by migration 0001). */
export const WORKSPACE_ID = 1;

// Blind-index bit budget (docs/security.md §5), planned for 1,000,000 contacts
// per workspace. email and email_domain come from the same field and share the
// budget, but the domain index's real contribution is the *entropy of the
// domain distribution*, not its 8 bits: in a gmail-heavy list most rows share a
// handful of domains. Layout 1 assumed the full 8 bits (email 10 bits), so a
// single-domain list saw ~1,000 candidates per lookup. Layout 2 budgets the
// email index against an expected 4 bits of domain entropy:
// EMAIL_BITS = recommendBlindIndexBits(1M, other 4) = 14, i.e. between C ≈ 61
// (every contact at one domain) and C ≈ 0.24 (uniform over ≥ 256 domains) per
// exact lookup. Phone is its own field: 18 bits (C ≈ 3.8 at 1M).
// The domain index stays 8 bits (segments filter on it without decrypting).
export const PLANNED_CONTACTS = 1_000_000;
export const DOMAIN_BITS = 8;
export const DOMAIN_ENTROPY_BITS = 4;
export const EMAIL_BITS = recommendBlindIndexBits(PLANNED_CONTACTS, {
  otherIndexBits: DOMAIN_ENTROPY_BITS,
}).bits;
export const PHONE_BITS = recommendBlindIndexBits(PLANNED_CONTACTS).bits;
/** Current blind-index layout written to contacts.bidx_layout. */
export const BIDX_LAYOUT = 2;
/** Layout 1's email index: the top 10 bits of the same HMAC (so legacy = current >>> 4). */
export const LEGACY_EMAIL_BITS = 10;
// ---------------------------------------------------------------------------
// Codec

export function encText(
  kr: Keyring,
  table: string,
  column: string,
  rowId: string,
  value: string | null | undefined,
): Buffer | null {
  if (value === null || value === undefined) return null;
  return encryptField(kr, { table, column, rowId }, value);
}

export function decText(
  kr: Keyring,
  table: string,
  column: string,
  rowId: string,
  value: Buffer | Uint8Array | null | undefined,
): string | null {
  if (value === null || value === undefined) return null;
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return decryptFieldText(kr, { table, column, rowId }, buf);
}

/**
 * Whether a blind-index candidate's email ciphertext holds `normalisedEmail`. A candidate whose ciphertext
 * length says its address has another length is dropped without decrypting (most false positives of a
 * crowded bucket, e.g. gmail.com's); the rest is decrypted and compared, so tampering still fails loudly.
 */
export function emailMatches(
  kr: Keyring,
  table: string,
  rowId: string,
  emailEnc: Buffer | Uint8Array,
  normalisedEmail: string,
): boolean {
  const bytes = fieldPlaintextBytes(emailEnc);
  if (bytes !== null && bytes !== Buffer.byteLength(normalisedEmail, 'utf8')) return false;
  return decText(kr, table, 'email', rowId, emailEnc) === normalisedEmail;
}

export const emailBidx = (kr: Keyring, email: string) => blindIndexForWrite(kr, 'email', email, EMAIL_BITS);
// Domains repeat (a few webmail domains hold most addresses): an import computes each one's HMAC once per keyring.
const domainCache = new WeakMap<Keyring, Map<string, number>>();
export function domainBidx(kr: Keyring, domain: string): number {
  let cache = domainCache.get(kr);
  if (!cache) domainCache.set(kr, (cache = new Map()));
  let v = cache.get(domain);
  if (v === undefined) {
    v = blindIndexForWrite(kr, 'email_domain', domain, DOMAIN_BITS);
    if (cache.size >= 50_000) cache.clear();
    cache.set(domain, v);
  }
  return v;
}
export const phoneBidx = (kr: Keyring, phone: string) => blindIndexForWrite(kr, 'phone', phone, PHONE_BITS);
export const emailLookup = (kr: Keyring, email: string) =>
  blindIndexLookupValues(kr, 'email', email, EMAIL_BITS);
/** Layout-1 values of an email (rows the re-index sweep has not reached yet). */
export const legacyEmailLookup = (kr: Keyring, email: string) => legacyEmailBidx(emailLookup(kr, email));
/** Layout-1 values of current email index values (layout 1 kept the top 10 bits of the same HMAC). */
export const legacyEmailBidx = (values: readonly number[]) =>
  values.map((v) => v >>> (EMAIL_BITS - LEGACY_EMAIL_BITS));
export const domainLookup = (kr: Keyring, domain: string) =>
  blindIndexLookupValues(kr, 'email_domain', domain, DOMAIN_BITS);
export const phoneLookup = (kr: Keyring, phone: string) =>
  blindIndexLookupValues(kr, 'phone', phone, PHONE_BITS);

const suppressionKeys = new WeakMap<object, HmacSha256Key>();

/**
 * Full 256-bit HMAC of a normalised email under HKDF(blind-index root,
 * "suppression/v1"). Not truncated: a suppression entry must match exactly one
 * address, and for erased contacts it is all that is left.
 */
export function suppressionHash(kr: Keyring, normalisedEmail: string): Buffer {
  const root = kr.blindIndexKey();
  let key = suppressionKeys.get(root);
  if (!key) {
    const raw = deriveKey(root, 'suppression/v1');
    key = hmacSha256Key(raw);
    raw.fill(0);
    suppressionKeys.set(root, key);
  }
  return hmacSha256(key, normalisedEmail);
}

/** HMAC key for signed links (double opt-in), derived from the blind-index root. */
export function linkSigningKey(kr: Keyring): Buffer {
  return deriveKey(kr.blindIndexKey(), 'consent-link/v1');
}

// ---------------------------------------------------------------------------
// Ids

const pool = Buffer.alloc(16 * 1024);
let poolAt = pool.length;

/** RFC 9562 UUIDv7: time-ordered (good btree locality for bulk inserts), 74 random bits. */
export function uuidv7(now = Date.now()): string {
  if (poolAt >= pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const b = pool.subarray(poolAt, poolAt + 16);
  poolAt += 16;
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
