// A contact's PII other than the email — names, phone, notes, sensitive custom
// attributes — sealed as one value in `contacts.profile_enc` (AES-256-GCM, AAD =
// workspace/contacts/profile/row id/key version, like every field).
//
// Why one value and not one per column: node:crypto costs ~4–6 µs per AES-GCM
// call whatever the size (cipher setup, final, tag; OpenSSL itself needs ~0.4 µs
// for 30 bytes), so five separate fields made encryption the largest share of an
// import's and a key rotation's CPU. The email stays its own field: exact lookups
// and the duplicate probe decrypt only it. The profile is always read and written
// whole (decodeContact, encodeContact), so nothing needs a single one of its
// fields alone. It also leaks less: only the total length, not each field's.
//
// Rows written before migration 0019 keep their per-column values
// (first_name_enc … sensitive_enc, profile_enc NULL); `contactProfile` reads
// either, and the next write of a row stores the profile form.
import type { Keyring } from '../crypto/field-cipher.ts';
import type { AttributeValue } from './masking.ts';
import { decText, encText } from './field-codec.ts';

export interface ContactProfile {
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  notes: string | null;
  /** Sensitive custom attributes (plaintext ones live in `attributes`). */
  sensitive: Record<string, AttributeValue>;
}

/** The encrypted columns a profile can come from (a contacts row, or what encodeContact produced). */
export interface ProfileColumns {
  profileEnc?: Buffer | Uint8Array | null;
  firstNameEnc?: Buffer | Uint8Array | null;
  lastNameEnc?: Buffer | Uint8Array | null;
  phoneEnc?: Buffer | Uint8Array | null;
  notesEnc?: Buffer | Uint8Array | null;
  sensitiveEnc?: Buffer | Uint8Array | null;
}

/** Record layout version, first element of the sealed JSON array. */
const PROFILE_V1 = 1;
const T = 'contacts';

/** Seal a profile; null when it holds nothing (no names, phone, notes or sensitive attributes). */
export function sealProfile(kr: Keyring, id: string, p: ContactProfile): Buffer | null {
  const hasSensitive = Object.keys(p.sensitive).length > 0;
  if (p.firstName === null && p.lastName === null && p.phone === null && p.notes === null && !hasSensitive) return null;
  const record = [PROFILE_V1, p.firstName, p.lastName, p.phone, p.notes, hasSensitive ? p.sensitive : null];
  return encText(kr, T, 'profile', id, JSON.stringify(record));
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * A row's profile, from `profile_enc` or, for a row written before it existed, from the per-column values.
 * Decryption errors (tampering, a value moved from another row or column) propagate as DecryptionError.
 */
export function contactProfile(kr: Keyring, id: string, c: ProfileColumns): ContactProfile {
  if (c.profileEnc) {
    const record: unknown = JSON.parse(decText(kr, T, 'profile', id, c.profileEnc)!);
    if (!Array.isArray(record) || record[0] !== PROFILE_V1) {
      // Authenticated, so written by us: only a newer version of this code writes another layout.
      throw new Error(`contact ${id}: profile record layout ${JSON.stringify(Array.isArray(record) ? record[0] : typeof record)} is not known to this version`);
    }
    const sensitive = record[5];
    return {
      firstName: str(record[1]),
      lastName: str(record[2]),
      phone: str(record[3]),
      notes: str(record[4]),
      sensitive: sensitive && typeof sensitive === 'object' ? (sensitive as Record<string, AttributeValue>) : {},
    };
  }
  // Per-column values (all NULL for a contact with nothing but an email): decText answers null for each.
  const sensitive = decText(kr, T, 'sensitive', id, c.sensitiveEnc);
  return {
    firstName: decText(kr, T, 'first_name', id, c.firstNameEnc),
    lastName: decText(kr, T, 'last_name', id, c.lastNameEnc),
    phone: decText(kr, T, 'phone', id, c.phoneEnc),
    notes: decText(kr, T, 'notes', id, c.notesEnc),
    sensitive: sensitive ? JSON.parse(sensitive) : {},
  };
}
