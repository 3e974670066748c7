// Secrets sealed directly under a sub-key of the master key (HKDF, one purpose
// each) rather than under the vault's wrapped data keys: TOTP secrets, DKIM
// private keys, SMTP relay passwords, queued transactional messages and the
// built-in outbox's captured mail. A master-key rotation re-wraps the vault's
// data keys (contacts/rotation.ts); without this step these would stop opening
// once the old key is removed — every user with 2FA locked out, DKIM signing
// and relays broken, captured mail unreadable.
//
// Each row is opened with the current key's sub-key first (it may have been
// re-sealed already: the step is idempotent and resumable), else with each
// previous key's, and sealed again under the current one. A row that opens
// under no configured key is counted and left alone, never overwritten.
import { sql } from 'drizzle-orm';
import { type Db, rows } from '../db/client.ts';
import { deriveKey, openWithKey, sealWithKey } from './aead.ts';

type Sealed = {
  what: string;
  purpose: string;
  /** The next rows after id `after` (keyset pages), as (id, aad, sealed). */
  select: (after: string, limit: number) => ReturnType<typeof sql>;
  update: (id: string, sealed: Buffer) => ReturnType<typeof sql>;
};

const SEALED: Sealed[] = [
  {
    what: 'TOTP secrets',
    purpose: 'totp-secrets',
    select: (after, n) => sql`SELECT id::text AS id, 'users.totp_secret|' || id AS aad, totp_secret AS sealed FROM users
      WHERE totp_secret IS NOT NULL AND id > ${after}::bigint ORDER BY id LIMIT ${n}`,
    update: (id, s) => sql`UPDATE users SET totp_secret = ${s} WHERE id = ${id}::bigint`,
  },
  {
    what: 'pending TOTP secrets',
    purpose: 'totp-secrets',
    select: (after, n) => sql`SELECT id::text AS id, 'users.totp_secret|' || id AS aad, totp_pending_secret AS sealed FROM users
      WHERE totp_pending_secret IS NOT NULL AND id > ${after}::bigint ORDER BY id LIMIT ${n}`,
    update: (id, s) => sql`UPDATE users SET totp_pending_secret = ${s} WHERE id = ${id}::bigint`,
  },
  {
    what: 'DKIM private keys',
    purpose: 'dkim-keys',
    select: (after, n) => sql`SELECT k.id::text AS id, 'dkim:' || d.domain || ':' || k.selector AS aad, k.private_key_enc AS sealed
      FROM dkim_keys k JOIN sending_domains d ON d.id = k.domain_id WHERE k.id > ${after}::bigint ORDER BY k.id LIMIT ${n}`,
    update: (id, s) => sql`UPDATE dkim_keys SET private_key_enc = ${s} WHERE id = ${id}::bigint`,
  },
  {
    what: 'SMTP relay passwords',
    purpose: 'smtp-relays',
    select: (after, n) => sql`SELECT id::text AS id, 'smtp-relay:' || id AS aad, password_enc AS sealed FROM smtp_relays
      WHERE password_enc IS NOT NULL AND id > ${after}::bigint ORDER BY id LIMIT ${n}`,
    update: (id, s) => sql`UPDATE smtp_relays SET password_enc = ${s} WHERE id = ${id}::bigint`,
  },
  {
    what: 'queued transactional messages',
    purpose: 'transactional-messages',
    select: (after, n) => sql`SELECT id::text AS id, 'transactional:' || id AS aad, payload_enc AS sealed FROM transactional_messages
      WHERE state IN ('queued', 'deferred', 'sending') AND id > ${after}::bigint ORDER BY id LIMIT ${n}`,
    update: (id, s) => sql`UPDATE transactional_messages SET payload_enc = ${s} WHERE id = ${id}::bigint`,
  },
  {
    what: 'outbox summaries',
    purpose: 'outbox',
    select: (after, n) => sql`SELECT id::text AS id, 'outbox:' || id || ':summary' AS aad, summary_enc AS sealed FROM outbox_messages
      WHERE summary_enc IS NOT NULL AND id > ${after}::bigint ORDER BY id LIMIT ${n}`,
    update: (id, s) => sql`UPDATE outbox_messages SET summary_enc = ${s} WHERE id = ${id}::bigint`,
  },
  {
    what: 'outbox messages',
    purpose: 'outbox',
    select: (after, n) => sql`SELECT id::text AS id, 'outbox:' || id || ':raw' AS aad, raw_enc AS sealed FROM outbox_messages
      WHERE raw_enc IS NOT NULL AND id > ${after}::bigint ORDER BY id LIMIT ${n}`,
    update: (id, s) => sql`UPDATE outbox_messages SET raw_enc = ${s} WHERE id = ${id}::bigint`,
  },
];

export type ResealReport = { what: string; resealed: number; current: number; unreadable: number }[];

function open(keys: Buffer[], sealed: Buffer, aad: string): { plain: Buffer; index: number } | null {
  for (const [index, k] of keys.entries()) {
    try {
      return { plain: openWithKey(k, sealed, aad), index };
    } catch {
      // not sealed under this key: try the next
    }
  }
  return null;
}

/**
 * Re-seal every master-derived secret under `current`, reading with `current` or any of `previous`.
 * Rows are read in pages of `batch` (the outbox can hold 100,000 captured messages), one transaction each.
 */
export async function resealUnderMaster(db: Db, current: Buffer, previous: readonly Buffer[], batch = 500): Promise<ResealReport> {
  const report: ResealReport = [];
  for (const s of SEALED) {
    const keys = [current, ...previous].map((m) => deriveKey(m, s.purpose));
    const r = { what: s.what, resealed: 0, current: 0, unreadable: 0 };
    let after = '0';
    for (;;) {
      const found = await rows<{ id: string; aad: string; sealed: Buffer | Uint8Array }>(db, s.select(after, batch));
      if (found.length === 0) break;
      await db.transaction(async (tx) => {
        for (const row of found) {
          const o = open(keys, Buffer.from(row.sealed), row.aad);
          if (!o) r.unreadable++;
          else if (o.index === 0) r.current++;
          else {
            await tx.execute(s.update(row.id, sealWithKey(keys[0], o.plain, row.aad)));
            r.resealed++;
          }
        }
      });
      after = found[found.length - 1].id;
    }
    report.push(r);
  }
  return report;
}
