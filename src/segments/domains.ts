// Exact email-domain conditions. The domain blind index is deliberately short
// (vault.ts DOMAIN_BITS), so `email_domain_bidx IN (…)` selects the domain's
// *bucket*: the domain's contacts plus ~1/2^bits of every other contact. Where
// exactness matters (sample, freeze as list, campaign ledger) we decrypt the
// bucket once per statement, and the compiler excludes the bucket's contacts of
// other domains by id (compile.ts, `CompileContext.exactDomains`). The list of
// such "false positives" is small (~N/2^bits) even when the domain itself is
// huge, so it travels as one array parameter.
//
// Only ids of contacts whose domain *differs* are passed to SQL; plaintext never
// leaves this module, and nothing is cached (a cache would have to be
// invalidated on every contact write).
import { sql } from 'drizzle-orm';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { contactEmail } from '../contacts/profile.ts';
import { domainLookup } from '../contacts/vault.ts';

export type ExactDomains = {
  /** domain → ids of contacts in the domain's bucket whose address is in another domain. */
  falsePositives: Map<string, string[]>;
  /** Domains left approximate because their bucket is larger than `maxRows`. */
  approximate: string[];
  /** Addresses decrypted to decide. */
  decrypted: number;
};

const PAGE = 5000;

/**
 * Decrypt each domain's bucket and list the contacts that are in it by
 * coincidence. `maxRows` bounds the work (live counts pass a limit and stay
 * approximate for huge buckets; sample, freeze and ledger pass none).
 */
export async function exactDomains(
  db: Tx,
  kr: Keyring,
  workspaceId: number,
  domains: readonly string[],
  maxRows = Number.POSITIVE_INFINITY,
): Promise<ExactDomains> {
  const res: ExactDomains = { falsePositives: new Map(), approximate: [], decrypted: 0 };
  for (const domain of domains) {
    const bucket = `{${domainLookup(kr, domain).join(',')}}`;
    if (Number.isFinite(maxRows)) {
      const [{ n }] = await rows<{ n: number }>(
        db,
        sql`SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${workspaceId}::int AND email_domain_bidx = ANY(${bucket}::int[])`,
      );
      if (Number(n) > maxRows) {
        res.approximate.push(domain);
        continue;
      }
    }
    const others: string[] = [];
    // Keyset pages: bounded memory however large the domain is.
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const page = await rows<{ id: string; email_enc: Uint8Array | null; profile_enc: Uint8Array | null }>(
        db,
        sql`SELECT id, email_enc, profile_enc FROM contacts WHERE workspace_id = ${workspaceId}::int AND email_domain_bidx = ANY(${bucket}::int[]) AND id > ${after}::uuid ORDER BY id LIMIT ${PAGE}::int`,
      );
      for (const r of page) {
        const email = contactEmail(kr, r.id, { emailEnc: r.email_enc, profileEnc: r.profile_enc });
        if (email.slice(email.lastIndexOf('@') + 1) !== domain) others.push(r.id);
      }
      res.decrypted += page.length;
      if (page.length < PAGE) break;
      after = page[page.length - 1].id;
    }
    res.falsePositives.set(domain, others);
  }
  return res;
}
