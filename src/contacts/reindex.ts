// Re-index sweep: recompute the email blind index of contacts still under an
// older bit layout (contacts.bidx_layout < BIDX_LAYOUT; docs/security.md §5).
// Needs the keys (the index is an HMAC of the decrypted address), so it is a
// job, not a migration. Lookups query both layouts until it is done; it is
// resumable by construction (it selects by layout) and safe beside live writes:
// a write re-indexes the row itself, and the UPDATE only touches rows still
// at the old layout. A field-key rotation re-indexes the rows it rewrites too.
import { sql } from 'drizzle-orm';
import { rows, type Tx } from '../db/client.ts';
import { contactEmail } from './profile.ts';
import { BIDX_LAYOUT, emailBidx, type Vault, WORKSPACE_ID } from './vault.ts';

/** Contacts still carrying an older blind-index layout. */
export async function legacyIndexCount(db: Tx): Promise<number> {
  const [r] = await rows<{ n: number }>(
    db,
    sql`SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${WORKSPACE_ID} AND bidx_layout = 1`,
  );
  return r.n;
}

/** Re-index every contact under an older layout, in keyset batches; returns the number of rows rewritten. */
export async function reindexEmailIndex(
  db: Tx,
  vault: Vault,
  o: { batchSize?: number; onProgress?: (done: number) => void } = {},
): Promise<number> {
  const limit = o.batchSize ?? 2000;
  let cursor: string | null = null;
  let done = 0;
  for (;;) {
    const kr = await vault.keyring();
    const found: { id: string; email_enc: Uint8Array | null; profile_enc: Uint8Array | null }[] = await rows(
      db,
      sql`SELECT id, email_enc, profile_enc FROM contacts WHERE workspace_id = ${WORKSPACE_ID} AND bidx_layout = 1
          ${cursor === null ? sql`` : sql`AND id > ${cursor}`} ORDER BY id LIMIT ${limit}`,
    );
    if (found.length === 0) break;
    cursor = found[found.length - 1].id;
    const ids = found.map((r) => r.id);
    const values = found.map((r) => emailBidx(kr, contactEmail(kr, r.id, { emailEnc: r.email_enc, profileEnc: r.profile_enc })));
    await db.execute(sql`UPDATE contacts c SET email_bidx = u.eb, bidx_layout = ${BIDX_LAYOUT}
      FROM unnest(${sql.param(ids)}::uuid[], ${sql.param(values)}::int[]) AS u(id, eb)
      WHERE c.id = u.id AND c.bidx_layout = 1`);
    done += found.length;
    o.onProgress?.(done);
  }
  return done;
}
