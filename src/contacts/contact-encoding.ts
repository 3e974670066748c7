// A contact's fields → its encrypted column values (and an import row → those
// fields). Kept apart from service.ts, which reads and writes the database, so
// the import's worker thread loads only the codec (field-codec.ts) to encrypt.
import type { Keyring } from '../crypto/field-cipher.ts';
import { BIDX_LAYOUT, domainBidx, emailBidx, phoneBidx, WORKSPACE_ID } from './field-codec.ts';
import type { ValidRow } from './import-rows.ts';
import type { AttributeValue } from './masking.ts';
import { emailDomain } from './normalize.ts';
import { emailLengthOf, sealContactRecord } from './profile.ts';
import type { AttributeDef } from './service.ts';

/** contacts: the table every contact ciphertext's AAD names. */
export const T = 'contacts';

/** Normalised, validated contact fields (what gets encrypted). */
export interface ContactFields {
  email: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  notes: string | null;
  attributes: Record<string, AttributeValue>;
  jobTitle: string | null;
  country: string | null;
  timeZone: string | null;
  companyId: number | null;
  ownerUserId: number | null;
  tags: string[];
}

/** Encrypted column values of a contact row under the keyring's active key. */
// An import encodes thousands of rows against one definitions array: build its key set once.
const sensitiveKeySets = new WeakMap<readonly AttributeDef[], Set<string>>();

export function encodeContact(kr: Keyring, id: string, f: ContactFields, defs: readonly AttributeDef[]) {
  let sensitiveKeys = sensitiveKeySets.get(defs);
  if (!sensitiveKeys)
    sensitiveKeySets.set(defs, (sensitiveKeys = new Set(defs.filter((d) => d.sensitive).map((d) => d.key))));
  const plain: Record<string, AttributeValue> = {};
  const secret: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(f.attributes)) (sensitiveKeys.has(k) ? secret : plain)[k] = v;
  return {
    id,
    workspaceId: WORKSPACE_ID,
    keyVersion: kr.activeVersion,
    // The email is sealed in the record (profile.ts); email_enc is only for rows written before that.
    emailEnc: null,
    emailLength: emailLengthOf(f.email),
    emailBidx: emailBidx(kr, f.email),
    emailDomainBidx: domainBidx(kr, emailDomain(f.email)),
    bidxLayout: BIDX_LAYOUT,
    profileEnc: sealContactRecord(kr, id, {
      email: f.email,
      firstName: f.firstName,
      lastName: f.lastName,
      phone: f.phone,
      notes: f.notes,
      sensitive: secret,
    }),
    // Rows written before migration 0019 have per-column values; every write clears them (profile.ts).
    firstNameEnc: null,
    lastNameEnc: null,
    phoneEnc: null,
    notesEnc: null,
    sensitiveEnc: null,
    phoneBidx: f.phone ? phoneBidx(kr, f.phone) : null,
    attributes: plain,
    jobTitle: f.jobTitle,
    country: f.country,
    timeZone: f.timeZone,
    companyId: f.companyId,
    ownerUserId: f.ownerUserId,
    tags: f.tags,
  };
}

export interface EncodeInit {
  defs: readonly AttributeDef[];
  ownerUserId: number | null;
  tags: string[];
}

export type EncodedValues = ReturnType<typeof encodeContact>;

/** An import row's contact fields: what the import sets (owner and tags from its options), nothing else. */
export function fieldsOf(row: ValidRow, init: EncodeInit): ContactFields {
  return {
    email: row.email,
    firstName: row.firstName,
    lastName: row.lastName,
    phone: row.phone,
    notes: row.notes,
    attributes: row.attributes,
    jobTitle: null,
    country: row.country,
    timeZone: row.timeZone,
    companyId: null,
    ownerUserId: init.ownerUserId,
    tags: init.tags,
  };
}
