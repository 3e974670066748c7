// The workspace's keyring, loaded once and cached, and the email locks; the
// codec (field encryption, blind indexes, suppression hash, ids) lives in
// field-codec.ts and is re-exported from here.
import { asc, eq, sql } from 'drizzle-orm';
import {
  type DataKeyRecord,
  type Keyring,
  KeyringError,
  loadKeyring,
  newWorkspaceKeyRecords,
} from '../crypto/field-cipher.ts';
import { type KeyProvider, LocalKeyProvider } from '../crypto/key-provider.ts';
import type { Db, Tx } from '../db/client.ts';
import { WORKSPACE_ID } from './field-codec.ts';
import { dataKeys } from './schema.ts';

export * from './field-codec.ts';

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
