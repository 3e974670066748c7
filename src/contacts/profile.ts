// A contact's PII — email, names, phone, notes, sensitive custom attributes —
// sealed as one value, the contact's record, in `contacts.profile_enc`
// (AES-256-GCM, AAD = workspace/contacts/profile/row id/key version, like every
// field).
//
// Why one value and not one per column: node:crypto costs ~4–10 µs per AES-GCM
// call whatever the size (cipher setup, final, tag; OpenSSL itself needs ~0.4 µs
// for 30 bytes), so separate fields made encryption the largest share of an
// import's, a page's and a key rotation's CPU. Everything that reads a contact
// reads it whole (decodeContact, encodeContact); exact lookups and the import's
// duplicate probe decrypt the records of the few blind-index candidates whose
// email has the searched address's length (`contacts.email_length`, a key of the
// probe index). It also leaks less: only the total length, and the email's
// length, which its own ciphertext showed as well.
//
// Older forms keep reading, and the next write of a row stores the record form:
// - record layout 1 (migration 0019 to 0022): the email in `email_enc`, the rest in `profile_enc`;
// - before migration 0019: the email in `email_enc`, one value per column (first_name_enc … sensitive_enc).
// A row has either `email_enc` or `email_length` (a CHECK constraint, migration 0023): the first says the
// email is its own value, the second that it is in the record.
import type { Keyring } from '../crypto/field-cipher.ts';
import type { AttributeValue } from './masking.ts';
import { decText, emailMatches, encText } from './field-codec.ts';

/** A contact's PII: what its record seals. */
export interface ContactRecord {
  email: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  notes: string | null;
  /** Sensitive custom attributes (plaintext ones live in `attributes`). */
  sensitive: Record<string, AttributeValue>;
}

/** The columns a contact's PII can come from (a contacts row, or what encodeContact produced). */
export interface RecordColumns {
  emailEnc?: Buffer | Uint8Array | null;
  emailLength?: number | null;
  profileEnc?: Buffer | Uint8Array | null;
  firstNameEnc?: Buffer | Uint8Array | null;
  lastNameEnc?: Buffer | Uint8Array | null;
  phoneEnc?: Buffer | Uint8Array | null;
  notesEnc?: Buffer | Uint8Array | null;
  sensitiveEnc?: Buffer | Uint8Array | null;
}

/** Record layout versions, first element of the sealed JSON array. */
const LAYOUT_WITHOUT_EMAIL = 1;
const LAYOUT_WITH_EMAIL = 2;
const T = 'contacts';

/** Seal a contact's record (layout 2: the email first). */
export function sealContactRecord(kr: Keyring, id: string, r: ContactRecord): Buffer {
  const sensitive = Object.keys(r.sensitive).length > 0 ? r.sensitive : null;
  const record = [LAYOUT_WITH_EMAIL, r.email, r.firstName, r.lastName, r.phone, r.notes, sensitive];
  return encText(kr, T, 'profile', id, JSON.stringify(record))!;
}

/** The UTF-8 length of an email: `contacts.email_length`, a key of the probe index. */
export const emailLengthOf = (email: string) => Buffer.byteLength(email, 'utf8');

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * A row's PII, from whichever form it was written in (see the top of this file). Decryption errors (tampering,
 * a value moved from another row or column) propagate as DecryptionError.
 */
export function openContactRecord(kr: Keyring, id: string, c: RecordColumns): ContactRecord {
  if (c.profileEnc) {
    const record: unknown = JSON.parse(decText(kr, T, 'profile', id, c.profileEnc)!);
    const layout = Array.isArray(record) ? record[0] : typeof record;
    // Authenticated, so written by us: only a newer version of this code writes another layout.
    if (layout !== LAYOUT_WITH_EMAIL && layout !== LAYOUT_WITHOUT_EMAIL)
      throw new Error(`contact ${id}: record layout ${JSON.stringify(layout)} is not known to this version`);
    const fields = (record as unknown[]).slice(layout === LAYOUT_WITH_EMAIL ? 2 : 1);
    const sensitive = fields[4];
    return {
      email: layout === LAYOUT_WITH_EMAIL ? String((record as unknown[])[1]) : ownEmail(kr, id, c),
      firstName: str(fields[0]),
      lastName: str(fields[1]),
      phone: str(fields[2]),
      notes: str(fields[3]),
      sensitive: sensitive && typeof sensitive === 'object' ? (sensitive as Record<string, AttributeValue>) : {},
    };
  }
  // Per-column values (all NULL for a contact with nothing but an email): decText answers null for each.
  const sensitive = decText(kr, T, 'sensitive', id, c.sensitiveEnc);
  const fields = {
    firstName: decText(kr, T, 'first_name', id, c.firstNameEnc),
    lastName: decText(kr, T, 'last_name', id, c.lastNameEnc),
    phone: decText(kr, T, 'phone', id, c.phoneEnc),
    notes: decText(kr, T, 'notes', id, c.notesEnc),
    sensitive: sensitive ? JSON.parse(sensitive) : {},
  };
  return { email: ownEmail(kr, id, c), ...fields };
}

/** The email in a record's plaintext (reencrypt.ts, which has it decrypted anyway); null for layout 1 (no email). */
export function emailInRecord(json: string): string | null {
  const record: unknown = JSON.parse(json);
  return Array.isArray(record) && record[0] === LAYOUT_WITH_EMAIL ? String(record[1]) : null;
}

/** The email of a row in an older form (its own value in email_enc). */
function ownEmail(kr: Keyring, id: string, c: RecordColumns): string {
  const email = decText(kr, T, 'email', id, c.emailEnc);
  if (email === null) throw new Error(`contact ${id}: no email (neither in its record nor in email_enc)`);
  return email;
}

/** A row's email alone: its own value where it has one (nothing else decrypted), else its record's. */
export function contactEmail(kr: Keyring, id: string, c: RecordColumns): string {
  return c.emailEnc ? ownEmail(kr, id, c) : openContactRecord(kr, id, c).email;
}

/**
 * Whether a blind-index candidate's email is `normalisedEmail`. A candidate whose email has another length is
 * dropped without decrypting; the rest is decrypted and compared, so tampering still fails loudly.
 */
export function contactEmailIs(kr: Keyring, id: string, c: RecordColumns, normalisedEmail: string): boolean {
  if (c.emailEnc) return emailMatches(kr, T, id, c.emailEnc, normalisedEmail);
  if (c.emailLength != null && c.emailLength !== emailLengthOf(normalisedEmail)) return false;
  return openContactRecord(kr, id, c).email === normalisedEmail;
}
