// The workspace's keyring, loaded once and cached, plus the small codec the
// contact tables use: field encryption with a fixed AAD layout, blind indexes
// with the bit budget chosen in docs/security.md, and the suppression hash.
import { randomFillSync } from 'node:crypto';
import { asc, eq, sql } from 'drizzle-orm';
import { deriveKey } from '../crypto/aead.ts';
import {
  blindIndexForWrite,
  blindIndexLookupValues,
  recommendBlindIndexBits,
} from '../crypto/blind-index.ts';
import {
  type DataKeyRecord,
  decryptFieldText,
  encryptField,
  fieldPlaintextBytes,
  type Keyring,
  KeyringError,
  loadKeyring,
  newWorkspaceKeyRecords,
} from '../crypto/field-cipher.ts';
import { type KeyProvider, LocalKeyProvider } from '../crypto/key-provider.ts';
import { type HmacSha256Key, hmacSha256, hmacSha256Key } from '../crypto/hmac.ts';
import type { Db, Tx } from '../db/client.ts';
import { dataKeys } from './schema.ts';

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

/** The keyring cannot be loaded: wrong or missing master key, tampered key rows. */
export class VaultError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VaultError';
    this.code = code;
  }
}

export function keyProviderFromConfig(cfg: {
  masterKey: Buffer;
  masterKeyPrevious?: readonly Buffer[];
}): LocalKeyProvider {
  return new LocalKeyProvider(cfg.masterKey, { previous: cfg.masterKeyPrevious ?? [] });
}

function toRecord(r: typeof dataKeys.$inferSelect): DataKeyRecord {
  return { ...r, workspaceId: String(r.workspaceId) };
}

export async function dataKeyRows(db: Tx, workspaceId = WORKSPACE_ID) {
  return db
    .select()
    .from(dataKeys)
    .where(eq(dataKeys.workspaceId, workspaceId))
    .orderBy(asc(dataKeys.purpose), asc(dataKeys.version));
}

// Keyrings cached per database handle and master key id, shared by every Vault
// of this process, so a rotation run through one Vault is seen by all of them.
const caches = new WeakMap<object, Map<string, { at: number; keyring: Keyring }>>();

/**
 * Holds the key provider and the workspace keyring. The keyring is cached for
 * `cacheMs` (another process may rotate keys: a stale keyring still decrypts
 * everything and writes under the previous version for at most that long; the
 * rotation sweep waits `2 × cacheMs` before retiring, see rotation.ts).
 */
export class Vault {
  readonly provider: KeyProvider;
  readonly cacheMs: number;
  #db: Db;
  #loading: Promise<Keyring> | null = null;

  constructor(db: Db, provider: KeyProvider, opts: { cacheMs?: number } = {}) {
    this.#db = db;
    this.provider = provider;
    this.cacheMs = opts.cacheMs ?? 1_000;
  }

  get #cache(): Map<string, { at: number; keyring: Keyring }> {
    let c = caches.get(this.#db);
    if (!c) caches.set(this.#db, (c = new Map()));
    return c;
  }

  /** Drop the cached keyrings of this database (after a rotation in this process). */
  invalidate(): void {
    caches.delete(this.#db);
  }

  async keyring(): Promise<Keyring> {
    const hit = this.#cache.get(this.provider.id);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.keyring;
    this.#loading ??= this.#load().finally(() => {
      this.#loading = null;
    });
    return this.#loading;
  }

  /**
   * Load (creating on first start) the workspace keys. Throws VaultError with
   * an operator-facing message when the master key cannot unwrap them:
   * `serve` refuses to start on it.
   */
  async ready(): Promise<Keyring> {
    this.invalidate();
    return this.keyring();
  }

  async #load(): Promise<Keyring> {
    let rows = await dataKeyRows(this.#db);
    if (rows.length === 0) {
      const records = await newWorkspaceKeyRecords(this.provider, String(WORKSPACE_ID));
      await this.#db
        .insert(dataKeys)
        .values(records.map((r) => ({ ...r, workspaceId: WORKSPACE_ID })))
        .onConflictDoNothing();
      rows = await dataKeyRows(this.#db);
    }
    try {
      const keyring = await loadKeyring(this.provider, rows.map(toRecord));
      this.#cache.set(this.provider.id, { at: Date.now(), keyring });
      return keyring;
    } catch (err) {
      if (err instanceof KeyringError) {
        const hint =
          err.code === 'UNKNOWN_MASTER_KEY' || err.code === 'UNWRAP_FAILED'
            ? 'The configured master key (MAILWARDEN_MASTER_KEY / MAILWARDEN_MASTER_KEY_FILE, or data/master.key) is not the one that protects this database. ' +
              'Restore the right key; during a master-key rotation also set MAILWARDEN_MASTER_KEY_PREVIOUS.'
            : 'The data_keys table is inconsistent; restore it from a backup.';
        throw new VaultError(err.code, `cannot open the customer-data vault: ${err.message}. ${hint}`, {
          cause: err,
        });
      }
      throw err;
    }
  }
}

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

// Email uniqueness locks (transaction-scoped advisory locks). A single write
// takes the import lock in *shared* mode, then its bucket lock; an import batch
// takes the import lock *exclusively* — one lock for 2,000 rows instead of one
// per bucket — which waits for (and blocks) every single write. Same order
// everywhere (import lock, then buckets ascending): no deadlocks.
const EMAIL_LOCK = 727010;
const EMAIL_IMPORT_LOCK = 727012;

/** Lock the email buckets of a single-contact write (create, update, erase). */
export async function lockEmailBuckets(tx: Tx, buckets: number[]): Promise<void> {
  const sorted = [...new Set(buckets)].sort((a, b) => a - b);
  if (sorted.length === 0) return;
  await tx.execute(sql`SELECT pg_advisory_xact_lock_shared(${EMAIL_IMPORT_LOCK}, 0)`);
  await tx.execute(
    sql`SELECT count(pg_advisory_xact_lock(${EMAIL_LOCK}, b)) FROM (SELECT b FROM unnest(${sql.param(sorted)}::int[]) b ORDER BY b) s`,
  );
}

/** Lock every email of the workspace for one import batch (exclusive against every other email write). */
export async function lockAllEmails(tx: Tx): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${EMAIL_IMPORT_LOCK}, 0)`);
}
