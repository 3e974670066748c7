// Master-key abstraction for envelope encryption.
//
// A KeyProvider wraps (encrypts) and unwraps per-workspace data keys under a
// master key that never leaves the provider. Callers only ever see wrapped
// bytes plus the id of the master key that wrapped them, so a KMS or Vault
// transit provider can replace LocalKeyProvider without touching callers.
//
// Master-key rotation never re-encrypts data: it re-wraps the (small) data
// keys with `rewrap`, leaving every field ciphertext untouched.
import { readFileSync } from 'node:fs';
import { type KeyObject, createSecretKey, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { DecryptionError, KEY_BYTES, deriveKey, openWithKey, sealWithKey } from './aead.ts';

/** A data key wrapped under a master key, as stored next to the data it protects. */
export interface WrappedKey {
  wrapped: Buffer;
  /** Opaque, non-secret id of the master key that produced `wrapped`. */
  masterKeyId: string;
}

export interface KeyProvider {
  /** Id of the master key used for new wraps (a fingerprint or KMS key ARN/name, never key material). */
  readonly id: string;
  /**
   * Wrap a data key. `context` is authenticated (AAD / KMS encryption context):
   * unwrapping with a different context fails.
   */
  wrapKey(dataKey: Buffer, context: string): Promise<WrappedKey>;
  /** Unwrap a data key. Throws `KeyUnwrapError` on unknown master key id or failed authentication. */
  unwrapKey(wrapped: WrappedKey, context: string): Promise<Buffer>;
  /** True if this provider can unwrap keys wrapped under `masterKeyId`. */
  canUnwrap(masterKeyId: string): boolean;
}

export type KeyUnwrapFailure = 'unknown_master_key' | 'authentication_failed' | 'invalid_key_length';

export class KeyUnwrapError extends Error {
  readonly code = 'KEY_UNWRAP_FAILED' as const;
  readonly reason: KeyUnwrapFailure;
  readonly masterKeyId: string;
  constructor(reason: KeyUnwrapFailure, masterKeyId: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyUnwrapError';
    this.reason = reason;
    this.masterKeyId = masterKeyId;
  }
}

/** Invalid master key configuration (wrong length, bad encoding, obviously non-random). */
export class MasterKeyError extends Error {
  readonly code = 'INVALID_MASTER_KEY' as const;
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

const LOCAL_ID_PREFIX = 'local:';
const WRAP_PURPOSE = 'data-key-wrapping';
const ID_PURPOSE = 'master-key-id';

/**
 * Parse a 32-byte master key from configuration: 64 hex characters, base64 /
 * base64url (44/43 characters), or exactly 32 raw bytes (a key file).
 * Surrounding whitespace is ignored. Obviously non-random keys (a single
 * repeated byte) are rejected.
 */
export function parseMasterKey(input: string | Buffer): Buffer {
  let key: Buffer | undefined;
  if (Buffer.isBuffer(input) && input.length === KEY_BYTES) {
    key = Buffer.from(input);
  } else {
    const text = (Buffer.isBuffer(input) ? input.toString('utf8') : input).trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
    else if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) key = Buffer.from(text, 'base64');
    else if (/^[A-Za-z0-9_-]{43}$/.test(text)) key = Buffer.from(text, 'base64url');
  }
  if (!key || key.length !== KEY_BYTES) {
    throw new MasterKeyError(
      `master key must be ${KEY_BYTES} bytes, given as 64 hex characters, base64, or a ${KEY_BYTES}-byte file`,
    );
  }
  if (key.every((b) => b === key[0])) {
    key.fill(0);
    throw new MasterKeyError('master key is a single repeated byte; generate one with generateMasterKey()');
  }
  return key;
}

/** A fresh random master key, base64-encoded (for `mailwarden keys generate` and .env files). */
export function generateMasterKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** Non-secret fingerprint of a local master key: HKDF output, so it reveals nothing about the key. */
export function localMasterKeyId(master: Buffer): string {
  return LOCAL_ID_PREFIX + deriveKey(master, ID_PURPOSE).subarray(0, 8).toString('hex');
}

function wrapAad(masterKeyId: string, context: string): string {
  return `mailwarden/wrap/v1\u0000${masterKeyId}\u0000${context}`;
}

export interface LocalKeyProviderOptions {
  /** Previous master keys, accepted for unwrapping only (during a rotation). */
  previous?: readonly Buffer[];
}

/**
 * Master key held in process memory (from an env variable or a key file).
 * Wrapping is AES-256-GCM under a key-encryption key derived from the master
 * with HKDF; the AAD binds the master key id and the caller's context.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly id: string;
  /** Ids of every master key this provider can unwrap with, current first. */
  readonly keyIds: readonly string[];
  readonly #keks = new Map<string, KeyObject>();

  constructor(masterKey: Buffer, options: LocalKeyProviderOptions = {}) {
    const all = [masterKey, ...(options.previous ?? [])];
    const ids: string[] = [];
    for (const raw of all) {
      if (!Buffer.isBuffer(raw) || raw.length !== KEY_BYTES) {
        throw new MasterKeyError(`master key must be a ${KEY_BYTES}-byte Buffer`);
      }
      const id = localMasterKeyId(raw);
      if (this.#keks.has(id)) continue;
      const kek = deriveKey(raw, WRAP_PURPOSE);
      this.#keks.set(id, createSecretKey(kek));
      kek.fill(0);
      ids.push(id);
    }
    this.id = ids[0];
    this.keyIds = ids;
  }

  /**
   * From environment variables holding hex/base64 keys: `MAILWARDEN_MASTER_KEY`
   * and, during a rotation, a comma-separated `MAILWARDEN_MASTER_KEY_PREVIOUS`.
   */
  static fromEnv(
    env: Record<string, string | undefined> = process.env,
    names: { current?: string; previous?: string } = {},
  ): LocalKeyProvider {
    const currentName = names.current ?? 'MAILWARDEN_MASTER_KEY';
    const previousName = names.previous ?? 'MAILWARDEN_MASTER_KEY_PREVIOUS';
    const current = env[currentName];
    if (!current) throw new MasterKeyError(`${currentName} is not set`);
    const previous = (env[previousName] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => parseMasterKey(s));
    const master = parseMasterKey(current);
    try {
      return new LocalKeyProvider(master, { previous });
    } finally {
      master.fill(0);
      for (const p of previous) p.fill(0);
    }
  }

  /** From key files (32 raw bytes, or hex/base64 text), e.g. a Docker/Kubernetes secret mount. */
  static fromFile(path: string, previousPaths: readonly string[] = []): LocalKeyProvider {
    const master = parseMasterKey(readFileSync(path));
    const previous = previousPaths.map((p) => parseMasterKey(readFileSync(p)));
    try {
      return new LocalKeyProvider(master, { previous });
    } finally {
      master.fill(0);
      for (const p of previous) p.fill(0);
    }
  }

  canUnwrap(masterKeyId: string): boolean {
    return this.#keks.has(masterKeyId);
  }

  async wrapKey(dataKey: Buffer, context: string): Promise<WrappedKey> {
    if (!Buffer.isBuffer(dataKey) || dataKey.length !== KEY_BYTES) {
      throw new TypeError(`data key must be a ${KEY_BYTES}-byte Buffer`);
    }
    const kek = this.#keks.get(this.id)!;
    return { wrapped: sealWithKey(kek, dataKey, wrapAad(this.id, context)), masterKeyId: this.id };
  }

  async unwrapKey(wrapped: WrappedKey, context: string): Promise<Buffer> {
    const kek = this.#keks.get(wrapped.masterKeyId);
    if (!kek) {
      throw new KeyUnwrapError(
        'unknown_master_key',
        wrapped.masterKeyId,
        `key was wrapped by master key ${wrapped.masterKeyId}, but the configured master key(s) are ` +
          `${this.keyIds.join(', ')}; configure the previous master key (MAILWARDEN_MASTER_KEY_PREVIOUS) or restore it`,
      );
    }
    let key: Buffer;
    try {
      key = openWithKey(kek, wrapped.wrapped, wrapAad(wrapped.masterKeyId, context));
    } catch (err) {
      if (!(err instanceof DecryptionError)) throw err;
      throw new KeyUnwrapError(
        'authentication_failed',
        wrapped.masterKeyId,
        `wrapped key failed authentication under master key ${wrapped.masterKeyId} (corrupted, or moved to another context)`,
        { cause: err },
      );
    }
    if (key.length !== KEY_BYTES) {
      key.fill(0);
      throw new KeyUnwrapError(
        'invalid_key_length',
        wrapped.masterKeyId,
        'unwrapped data key has the wrong length',
      );
    }
    return key;
  }

  toJSON(): { provider: 'local'; id: string; keyIds: readonly string[] } {
    return { provider: 'local', id: this.id, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `LocalKeyProvider { id: '${this.id}', keyIds: [${this.keyIds.map((k) => `'${k}'`).join(', ')}] }`;
  }
}

/**
 * Master-key rotation step for one data key: unwrap with `from` (which must
 * know the old master key) and wrap again with `to`. The data key itself, and
 * therefore every ciphertext under it, is unchanged. `from` and `to` may be the
 * same provider configured with the new key as current and the old as previous.
 */
export async function rewrap(
  from: KeyProvider,
  to: KeyProvider,
  wrapped: WrappedKey,
  context: string,
): Promise<WrappedKey> {
  const dataKey = await from.unwrapKey(wrapped, context);
  try {
    return await to.wrapKey(dataKey, context);
  } finally {
    dataKey.fill(0);
  }
}
