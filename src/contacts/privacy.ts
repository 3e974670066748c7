// Privacy requests (data-subject access export, erasure) and the monitoring
// hook for security-relevant contact events. Imported by routes.ts directly
// (not re-exported by service.ts, which it depends on).
import { eq } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import type { Tx } from '../db/client.ts';
import { companies, contacts, monitoringOutbox } from './schema.ts';
import {
  consentHistory,
  getContact,
  isSuppressed,
  listActivities,
  listsOfContact,
  suppress,
} from './service.ts';

/** Everything stored about one contact, decrypted (a data-subject access request). */
export async function privacyExport(db: Tx, kr: Keyring, contactId: string) {
  const contact = await getContact(db, kr, contactId);
  const company = contact.companyId
    ? ((await db.select().from(companies).where(eq(companies.id, contact.companyId)))[0] ?? null)
    : null;
  return {
    exportedAt: new Date().toISOString(),
    contact,
    company,
    lists: await listsOfContact(db, contactId),
    consents: await consentHistory(db, kr, contactId),
    activities: await listActivities(db, kr, contactId, 100_000),
    suppression: await isSuppressed(db, kr, contact.email),
  };
}

/** Erase a contact: delete every row about it, keep only the suppression hash of its address. */
export async function eraseContact(db: Tx, kr: Keyring, contactId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const contact = await getContact(tx, kr, contactId);
    await suppress(tx, kr, contact.email, 'erased');
    await tx.delete(contacts).where(eq(contacts.id, contactId)); // cascades: consents, activities, list membership
  });
}

/**
 * Monitoring hook: security-relevant contact events (exports, erasures) go to
 * `monitoring_outbox` for the monitoring domain (not built yet) to consume.
 */
export async function emitMonitoringEvent(
  db: Tx,
  actor: Actor,
  kind: string,
  details: Record<string, unknown>,
): Promise<void> {
  await db
    .insert(monitoringOutbox)
    .values({ kind, actorType: actor.type, actorId: actor.id == null ? null : String(actor.id), details });
}
