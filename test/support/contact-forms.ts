// Rewrite a contact into a form older code wrote (src/contacts/profile.ts): tests
// check that such rows still read, match lookups and the import's duplicate
// probe, and rotate. The bytes are what that code stored: the email as its own
// field value, and the rest either as a layout-1 record or one value per column.
import { eq } from 'drizzle-orm';
import type { Keyring } from '../../src/crypto/field-cipher.ts';
import type { Db } from '../../src/db/client.ts';
import { contacts } from '../../src/db/schema.ts';
import { encText } from '../../src/contacts/field-codec.ts';
import { decodeContact, getContactRow } from '../../src/contacts/service.ts';

export type OlderForm = 'record-layout-1' | 'per-column';

export async function rewriteInOlderForm(db: Db, kr: Keyring, id: string, form: OlderForm): Promise<void> {
  const row = await getContactRow(db, id);
  if (!row) throw new Error(`no contact ${id}`);
  const c = decodeContact(kr, row);
  const sensitive = Object.fromEntries(Object.entries(c.attributes).filter(([k]) => !(k in (row.attributes as object))));
  const hasSensitive = Object.keys(sensitive).length > 0;
  const enc = (column: string, value: string | null) => encText(kr, 'contacts', column, id, value);
  const email = { emailEnc: enc('email', c.email), emailLength: null, keyVersion: kr.activeVersion };
  if (form === 'record-layout-1') {
    const record = [1, c.firstName, c.lastName, c.phone, c.notes, hasSensitive ? sensitive : null];
    await db.update(contacts).set({ ...email, profileEnc: enc('profile', JSON.stringify(record)) }).where(eq(contacts.id, id));
    return;
  }
  await db
    .update(contacts)
    .set({
      ...email,
      profileEnc: null,
      firstNameEnc: enc('first_name', c.firstName),
      lastNameEnc: enc('last_name', c.lastName),
      phoneEnc: enc('phone', c.phone),
      notesEnc: enc('notes', c.notes),
      sensitiveEnc: hasSensitive ? enc('sensitive', JSON.stringify(sensitive)) : null,
    })
    .where(eq(contacts.id, id));
}
