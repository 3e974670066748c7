// Envelope encryption of contact PII, field by field.
//
//   master key (KeyProvider) ──wraps──▶ per-workspace data keys, by version
//                                         ├─ purpose 'field'        → AES-256-GCM field encryption
//                                         └─ purpose 'blind-index'  → root of the HMAC blind-index keys
//
// Field ciphertext format (version 1), stored in a `bytea` column:
//   [0]     0x81  field format byte
//   [1..5)  uint32 big-endian data-key version
//   [5..)   AEAD v1 value from aead.ts (format | nonce | tag | ciphertext)
// Overhead: 34 bytes per field.
//
// AAD binds workspace, table, column, row id and key version, so a ciphertext
// copied to another row, column, table or workspace, or relabelled with another
// key version, fails to decrypt.
import { type KeyObject, createSecretKey, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  AEAD_FORMAT_V1,
  DecryptionError,
  HEADER_BYTES,
  KEY_BYTES,
  openWithKey,
  sealWithReserve,
} from './aead.ts';
import { KeyUnwrapError, type KeyProvider, type WrappedKey } from './key-provider.ts';

export const FIELD_FORMAT_V1 = 0x81;
/** Field header (format byte + key version); the AEAD value's own format byte follows it. */
export const FIELD_HEADER_BYTES = 5;
export const FIELD_OVERHEAD_BYTES = FIELD_HEADER_BYTES + HEADER_BYTES;
const MAX_VERSION = 0xffff_ffff;

export type DataKeyState = 'active' | 'retiring' | 'retired';
/** 'field' keys encrypt PII; the 'blind-index' key is the root of the workspace's blind-index keys. */
export type DataKeyPurpose = 'field' | 'blind-index';

/**
 * One row of the data-key table (suggested: primary key (workspace_id, purpose, version);
 * at most one 'active' row per (workspace_id, purpose), enforced with a partial unique index).
 */
export interface DataKeyRecord {
  workspaceId: string;
  purpose: DataKeyPurpose;
  version: number;
  wrappedKey: Buffer;
  masterKeyId: string;
  /** active: encrypts and decrypts. retiring: decrypt only, rows being re-encrypted. retired: not loaded. */
  state: DataKeyState;
  createdAt: Date;
}

export type KeyringErrorCode =
  | 'NO_KEYS'
  | 'INVALID_RECORD'
  | 'WORKSPACE_MISMATCH'
  | 'DUPLICATE_VERSION'
  | 'MULTIPLE_ACTIVE'
  | 'NO_ACTIVE_KEY'
  | 'UNKNOWN_MASTER_KEY'
  | 'UNWRAP_FAILED'
  | 'UNKNOWN_KEY_VERSION';

export class KeyringError extends Error {
  readonly code: KeyringErrorCode;
  constructor(code: KeyringErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyringError';
    this.code = code;
  }
}

/** Context string bound to a wrapped data key: moving a wrapped key to another workspace/purpose/version fails. */
export function dataKeyContext(workspaceId: string, purpose: DataKeyPurpose, version: number): string {
  return `mailwarden/data-key/v1\u0000${workspaceId}\u0000${purpose}\u0000${version}`;
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
    throw new RangeError('data key version must be an integer between 1 and 2^32-1');
  }
}

/** Generate and wrap a fresh random data key. Insert the returned row; nothing secret is in it. */
export async function newDataKeyRecord(
  provider: KeyProvider,
  workspaceId: string,
  version: number,
  purpose: DataKeyPurpose = 'field',
  now: Date = new Date(),
): Promise<DataKeyRecord> {
  checkVersion(version);
  if (!workspaceId) throw new TypeError('workspaceId is required');
  const dataKey = randomBytes(KEY_BYTES);
  try {
    const { wrapped, masterKeyId } = await provider.wrapKey(
      dataKey,
      dataKeyContext(workspaceId, purpose, version),
    );
    return {
      workspaceId,
      purpose,
      version,
      wrappedKey: wrapped,
      masterKeyId,
      state: 'active',
      createdAt: now,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** The two records a new workspace needs: field key v1 and blind-index key v1. */
export async function newWorkspaceKeyRecords(
  provider: KeyProvider,
  workspaceId: string,
  now: Date = new Date(),
): Promise<DataKeyRecord[]> {
  return [
    await newDataKeyRecord(provider, workspaceId, 1, 'field', now),
    await newDataKeyRecord(provider, workspaceId, 1, 'blind-index', now),
  ];
}

/** Master-key rotation for one record: same data key, same version and state, new wrapping. */
export async function rewrapDataKeyRecord(
  from: KeyProvider,
  to: KeyProvider,
  record: DataKeyRecord,
): Promise<DataKeyRecord> {
  const context = dataKeyContext(record.workspaceId, record.purpose, record.version);
  const dataKey = await from.unwrapKey(
    { wrapped: record.wrappedKey, masterKeyId: record.masterKeyId },
    context,
  );
  try {
    const next: WrappedKey = await to.wrapKey(dataKey, context);
    return { ...record, wrappedKey: next.wrapped, masterKeyId: next.masterKeyId };
  } finally {
    dataKey.fill(0);
  }
}

interface KeyringSecrets {
  field: Map<number, KeyObject>;
  index: Map<number, KeyObject>;
}

// Key material lives outside the instance so it is unreachable from public
// properties, JSON.stringify and util.inspect.
const secrets = new WeakMap<Keyring, KeyringSecrets>();
const CONSTRUCT = Symbol('Keyring');

/** A workspace's unwrapped data keys, in memory. Build with `loadKeyring`; reuse across requests. */
export class Keyring {
  readonly workspaceId: string;
  /** Version used by encryptField. */
  readonly activeVersion: number;
  /** Field-key versions this keyring can decrypt (active + retiring). */
  readonly versions: readonly number[];
  readonly activeIndexVersion: number;
  readonly indexVersions: readonly number[];

  /** Not for callers: use `loadKeyring`. */
  constructor(
    token: symbol,
    workspaceId: string,
    s: KeyringSecrets,
    activeVersion: number,
    activeIndexVersion: number,
  ) {
    if (token !== CONSTRUCT) throw new TypeError('build a Keyring with loadKeyring()');
    this.workspaceId = workspaceId;
    this.activeVersion = activeVersion;
    this.activeIndexVersion = activeIndexVersion;
    this.versions = [...s.field.keys()].sort((a, b) => a - b);
    this.indexVersions = [...s.index.keys()].sort((a, b) => a - b);
    secrets.set(this, s);
    Object.freeze(this);
  }

  hasVersion(version: number): boolean {
    return secrets.get(this)!.field.has(version);
  }

  /**
   * Blind-index root keys, active first, then retiring ones. During an index-key
   * rotation callers look up the union of the values under every returned key.
   */
  blindIndexKeys(): { version: number; key: KeyObject }[] {
    const idx = secrets.get(this)!.index;
    const out = [{ version: this.activeIndexVersion, key: idx.get(this.activeIndexVersion)! }];
    for (const [version, key] of idx) if (version !== this.activeIndexVersion) out.push({ version, key });
    return out;
  }

  /** The active blind-index root key (used when writing index columns). */
  blindIndexKey(): KeyObject {
    return secrets.get(this)!.index.get(this.activeIndexVersion)!;
  }

  toJSON(): object {
    return { workspaceId: this.workspaceId, activeVersion: this.activeVersion, versions: this.versions };
  }

  [inspect.custom](): string {
    return `Keyring { workspaceId: '${this.workspaceId}', activeVersion: ${this.activeVersion}, versions: [${this.versions.join(', ')}] }`;
  }
}

/**
 * Unwrap a workspace's data-key rows into a Keyring. Fails loudly — never
 * silently skips a key — when a needed key is wrapped by an unknown master key
 * or fails to unwrap (wrong master key, row tampered or moved), when rows mix
 * workspaces, repeat a version, or when there is not exactly one active key per
 * purpose. 'retired' rows are ignored (their ciphertexts must be gone).
 */
export async function loadKeyring(
  provider: KeyProvider,
  records: readonly DataKeyRecord[],
): Promise<Keyring> {
  if (records.length === 0) throw new KeyringError('NO_KEYS', 'no data keys given for the workspace');
  const workspaceId = records[0].workspaceId;
  const s: KeyringSecrets = { field: new Map(), index: new Map() };
  const active: Record<DataKeyPurpose, number[]> = { field: [], 'blind-index': [] };
  const seen = new Set<string>();
  try {
    for (const r of records) {
      if (r.workspaceId !== workspaceId) {
        throw new KeyringError(
          'WORKSPACE_MISMATCH',
          'data-key rows from more than one workspace given to loadKeyring',
        );
      }
      if (r.purpose !== 'field' && r.purpose !== 'blind-index') {
        throw new KeyringError('INVALID_RECORD', `unknown data-key purpose ${String(r.purpose)}`);
      }
      if (!Number.isInteger(r.version) || r.version < 1 || r.version > MAX_VERSION) {
        throw new KeyringError('INVALID_RECORD', `invalid data-key version ${String(r.version)}`);
      }
      const label = `${r.purpose} key v${r.version} of workspace ${workspaceId}`;
      if (seen.has(`${r.purpose}/${r.version}`))
        throw new KeyringError('DUPLICATE_VERSION', `${label} appears twice`);
      seen.add(`${r.purpose}/${r.version}`);
      if (r.state === 'retired') continue;
      if (r.state !== 'active' && r.state !== 'retiring') {
        throw new KeyringError('INVALID_RECORD', `${label} has unknown state ${String(r.state)}`);
      }
      if (r.state === 'active') active[r.purpose].push(r.version);
      if (!provider.canUnwrap(r.masterKeyId)) {
        throw new KeyringError(
          'UNKNOWN_MASTER_KEY',
          `${label} is wrapped by master key ${r.masterKeyId}, which the configured key provider (${provider.id}) ` +
            'does not have; configure that master key (e.g. as previous key) or rewrap the data keys',
        );
      }
      let raw: Buffer;
      try {
        raw = await provider.unwrapKey(
          { wrapped: r.wrappedKey, masterKeyId: r.masterKeyId },
          dataKeyContext(r.workspaceId, r.purpose, r.version),
        );
      } catch (err) {
        if (err instanceof KeyUnwrapError && err.reason === 'unknown_master_key') {
          throw new KeyringError('UNKNOWN_MASTER_KEY', `${label}: ${err.message}`, { cause: err });
        }
        throw new KeyringError(
          'UNWRAP_FAILED',
          `${label} could not be unwrapped: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      (r.purpose === 'field' ? s.field : s.index).set(r.version, createSecretKey(raw));
      raw.fill(0);
    }
    for (const purpose of ['field', 'blind-index'] as const) {
      if (active[purpose].length === 0) {
        throw new KeyringError(
          'NO_ACTIVE_KEY',
          `workspace ${workspaceId} has no active ${purpose} key (create one with newDataKeyRecord(provider, workspaceId, version, '${purpose}'))`,
        );
      }
      if (active[purpose].length > 1) {
        throw new KeyringError(
          'MULTIPLE_ACTIVE',
          `workspace ${workspaceId} has ${active[purpose].length} active ${purpose} keys (versions ${active[purpose].join(', ')})`,
        );
      }
    }
  } catch (err) {
    s.field.clear();
    s.index.clear();
    throw err;
  }
  return new Keyring(CONSTRUCT, workspaceId, s, active.field[0], active['blind-index'][0]);
}

/** Where a field value lives. The AAD binds all of it. */
export interface FieldContext {
  table: string;
  column: string;
  rowId: string | number | bigint;
}

function fieldAad(workspaceId: string, ctx: FieldContext, version: number): string {
  const rowId = String(ctx.rowId);
  // NUL-separated; NUL is refused in every component, so the encoding is unambiguous.
  if (ctx.table.includes('\u0000') || ctx.column.includes('\u0000') || rowId.includes('\u0000')) {
    throw new TypeError('table, column and rowId must not contain NUL');
  }
  if (!ctx.table || !ctx.column || !rowId) throw new TypeError('table, column and rowId are required');
  return `mailwarden/field/v1\u0000${workspaceId}\u0000${ctx.table}\u0000${ctx.column}\u0000${rowId}\u0000${version}`;
}

/** Encrypt one field value under the keyring's active key. */
export function encryptField(keyring: Keyring, ctx: FieldContext, plaintext: string | Buffer): Buffer {
  const version = keyring.activeVersion;
  const key = secrets.get(keyring)!.field.get(version)!;
  const out = sealWithReserve(
    key,
    plaintext,
    fieldAad(keyring.workspaceId, ctx, version),
    FIELD_HEADER_BYTES,
  );
  out[0] = FIELD_FORMAT_V1;
  out.writeUInt32BE(version, 1);
  return out;
}

/** Key version recorded in a field ciphertext (for re-encryption sweeps). */
export function fieldKeyVersion(ciphertext: Buffer): number {
  if (!Buffer.isBuffer(ciphertext) || ciphertext.length < FIELD_OVERHEAD_BYTES) {
    throw new DecryptionError('malformed', 'decryption failed (field ciphertext too short)');
  }
  if (ciphertext[0] !== FIELD_FORMAT_V1) {
    throw new DecryptionError(
      'unsupported_format',
      `decryption failed (unknown field format byte ${ciphertext[0]})`,
    );
  }
  return ciphertext.readUInt32BE(1);
}

/**
 * Decrypt one field. Throws DecryptionError (code DECRYPTION_FAILED) when the
 * value was tampered with or belongs to another workspace/table/column/row, and
 * KeyringError UNKNOWN_KEY_VERSION when its key version is not loaded (retired).
 */
export function decryptField(keyring: Keyring, ctx: FieldContext, ciphertext: Buffer): Buffer {
  const version = fieldKeyVersion(ciphertext);
  const key = secrets.get(keyring)!.field.get(version);
  if (!key) {
    throw new KeyringError(
      'UNKNOWN_KEY_VERSION',
      `field ${ctx.table}.${ctx.column} is encrypted with key v${version}, which is not loaded for workspace ` +
        `${keyring.workspaceId} (loaded: ${keyring.versions.join(', ')}); was it retired too early?`,
    );
  }
  return openWithKey(
    key,
    ciphertext.subarray(FIELD_HEADER_BYTES),
    fieldAad(keyring.workspaceId, ctx, version),
  );
}

/**
 * Plaintext length in bytes of a field ciphertext in the current format (AES-GCM does not pad, so it is the
 * ciphertext length minus the fixed overhead), or null for anything else (then only decrypting tells).
 * Lets an exact lookup drop blind-index candidates of another length without decrypting them; the length
 * is no secret — anyone who can read the column sees it.
 */
export function fieldPlaintextBytes(ciphertext: Uint8Array): number | null {
  return ciphertext.length >= FIELD_OVERHEAD_BYTES &&
    ciphertext[0] === FIELD_FORMAT_V1 &&
    ciphertext[FIELD_HEADER_BYTES] === AEAD_FORMAT_V1
    ? ciphertext.length - FIELD_OVERHEAD_BYTES
    : null;
}

/** decryptField, decoded as UTF-8. */
export function decryptFieldText(keyring: Keyring, ctx: FieldContext, ciphertext: Buffer): string {
  return decryptField(keyring, ctx, ciphertext).toString('utf8');
}

/**
 * Data-key rotation step for one value: returns the value re-encrypted under
 * the active key, or null when it already uses it (nothing to write).
 */
export function reencryptField(keyring: Keyring, ctx: FieldContext, ciphertext: Buffer): Buffer | null {
  if (fieldKeyVersion(ciphertext) === keyring.activeVersion) return null;
  const plain = decryptField(keyring, ctx, ciphertext);
  try {
    return encryptField(keyring, ctx, plain);
  } finally {
    plain.fill(0);
  }
}

/**
 * A keyring's key material for a worker thread of this process (bulk
 * encryption off the main thread). KeyObjects are cloned by postMessage and
 * never leave the process; do not serialise this anywhere else.
 */
export interface KeyringTransfer {
  workspaceId: string;
  activeVersion: number;
  activeIndexVersion: number;
  field: [number, KeyObject][];
  index: [number, KeyObject][];
}

export function keyringForWorker(keyring: Keyring): KeyringTransfer {
  const s = secrets.get(keyring)!;
  return {
    workspaceId: keyring.workspaceId,
    activeVersion: keyring.activeVersion,
    activeIndexVersion: keyring.activeIndexVersion,
    field: [...s.field],
    index: [...s.index],
  };
}

/** The keyring a worker thread rebuilds from `keyringForWorker`. */
export function keyringFromWorker(t: KeyringTransfer): Keyring {
  return new Keyring(
    CONSTRUCT,
    t.workspaceId,
    { field: new Map(t.field), index: new Map(t.index) },
    t.activeVersion,
    t.activeIndexVersion,
  );
}
