// Bulk export of chosen contact fields as CSV or JSON Lines, masked for the
// viewer, streamed in keyset batches (never the whole table in memory). The
// caller audits the export with its row count when the stream ends.
import { desc, sql } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import type { Tx } from '../db/client.ts';
import { fieldError } from '../http/problem.ts';
import { type ContactView, createMasker } from './masking.ts';
import { contacts } from './schema.ts';
import { type ContactFilter, decodeContact, filterWhere, listAttributeDefs, toPii } from './service.ts';
import { uuidv7, WORKSPACE_ID } from './vault.ts';

export const EXPORT_FIELDS = [
  'id',
  'email',
  'firstName',
  'lastName',
  'phone',
  'notes',
  'jobTitle',
  'country',
  'timeZone',
  'companyId',
  'ownerUserId',
  'tags',
  'createdAt',
] as const;

export interface ExportRequest {
  format: 'csv' | 'jsonl';
  /** Core fields or `attributes.<key>`. */
  fields: string[];
  filter: Omit<ContactFilter, 'before' | 'limit'>;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = Array.isArray(v) ? v.join(';') : v instanceof Date ? v.toISOString() : String(v);
  // Spreadsheet formula injection; plain numbers (E.164 phones, negatives) are not formulas.
  if (/^[=+\-@\t\r]/.test(s) && !/^[+-]?\d[\d.]*$/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Yields the export file chunk by chunk. `result.rows` holds the number of
 * contacts written so far (read it when the stream ends, for the audit entry).
 * Every exported contact gets an 'export' entry on its timeline.
 */
export async function* exportContacts(
  db: Tx,
  kr: Keyring,
  view: ContactView & { actor: Actor },
  req: ExportRequest,
  result: { rows: number; exportId: string },
  batchSize = 1000,
): AsyncGenerator<string> {
  const defs = await listAttributeDefs(db);
  const known = new Set<string>([...EXPORT_FIELDS, ...defs.map((d) => `attributes.${d.key}`)]);
  for (const f of req.fields) if (!known.has(f)) throw fieldError('fields', `unknown field ${f}`);
  const masker = createMasker({ ...view, attributes: defs });
  const exportId = result.exportId || uuidv7();
  result.exportId = exportId;
  if (req.format === 'csv') yield `${req.fields.map(csvCell).join(',')}\r\n`;
  let before: string | undefined;
  for (;;) {
    const { where, email, phone } = filterWhere(kr, { ...req.filter, before }, defs);
    const batch = await db.select().from(contacts).where(where).orderBy(desc(contacts.id)).limit(batchSize);
    if (batch.length === 0) break;
    before = batch[batch.length - 1].id;
    let out = '';
    const ids: string[] = [];
    for (const row of batch) {
      const c = decodeContact(kr, row);
      if ((email && c.email !== email) || (phone && c.phone !== phone)) continue;
      const m = masker(toPii(c)).contact;
      const full: Record<string, unknown> = { ...c, ...m, attributes: undefined };
      const record: Record<string, unknown> = {};
      for (const f of req.fields) record[f] = f.startsWith('attributes.') ? (m.attributes[f.slice(11)] ?? null) : full[f];
      out += req.format === 'csv' ? `${req.fields.map((f) => csvCell(record[f])).join(',')}\r\n` : `${JSON.stringify(record)}\n`;
      ids.push(c.id);
    }
    if (ids.length) {
      await db.execute(sql`INSERT INTO contact_activities (id, workspace_id, contact_id, kind, details, actor_user_id, actor_label)
        SELECT a, ${WORKSPACE_ID}, c, 'export', ${JSON.stringify({ exportId })}::jsonb, ${view.actor.type === 'user' ? Number(view.actor.id) : null}, ${view.actor.label ?? view.actor.type}
        FROM unnest(${sql.param(ids.map(() => uuidv7()))}::uuid[], ${sql.param(ids)}::uuid[]) AS u(a, c)`);
      result.rows += ids.length;
      yield out;
    }
    if (batch.length < batchSize) break;
  }
}
