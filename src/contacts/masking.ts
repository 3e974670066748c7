// Role-based masking of contact PII. The whole policy is the MASKING_MATRIX
// below; everything else is mechanism. Masking is applied after decryption,
// on the server, before anything is serialised to a client.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export const ROLES = ['owner', 'admin', 'security_analyst', 'marketer', 'sales_rep', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** Field classes the matrix rules over. Custom attributes are split by their `sensitive` flag. */
export const MASK_FIELDS = [
  'email',
  'firstName',
  'lastName',
  'phone',
  'notes',
  'sensitiveAttribute',
  'plainAttribute',
] as const;
export type MaskField = (typeof MASK_FIELDS)[number];

/**
 * full      clear for everyone with the role
 * owner     clear on contacts the viewer owns; elsewhere clear only with contacts:unmask, else masked
 * unmask    masked unless the viewer holds contacts:unmask
 * masked    always masked (contacts:unmask does not apply)
 */
export type AccessRule = 'full' | 'owner' | 'unmask' | 'masked';

export const UNMASK_PERMISSION = 'contacts:unmask';

export const MASKING_MATRIX: Readonly<Record<Role, Readonly<Record<MaskField, AccessRule>>>> = Object.freeze({
  // Full access; reads of contacts they do not own are flagged beyondOwnership for the audit log.
  owner: rule('full', 'full', 'full', 'full', 'full', 'full', 'full'),
  admin: rule('full', 'full', 'full', 'full', 'full', 'full', 'full'),
  // Investigates abuse, bounces and phishing reports: needs the address, not the person.
  security_analyst: rule('full', 'unmask', 'unmask', 'unmask', 'unmask', 'unmask', 'full'),
  // Needs email and names to send and personalise; the rest only by explicit grant.
  marketer: rule('full', 'full', 'full', 'unmask', 'unmask', 'unmask', 'full'),
  // Their own book of contacts in full; everyone else's masked.
  sales_rep: rule('owner', 'owner', 'owner', 'owner', 'owner', 'owner', 'owner'),
  // Verifies that data exists and how it is handled, never reads it.
  auditor: rule('masked', 'masked', 'masked', 'masked', 'masked', 'masked', 'masked'),
});

function rule(
  email: AccessRule,
  firstName: AccessRule,
  lastName: AccessRule,
  phone: AccessRule,
  notes: AccessRule,
  sensitiveAttribute: AccessRule,
  plainAttribute: AccessRule,
): Readonly<Record<MaskField, AccessRule>> {
  return Object.freeze({ email, firstName, lastName, phone, notes, sensitiveAttribute, plainAttribute });
}

export type AttributeValue = string | number | boolean | null;

/** Decrypted contact, as loaded by the caller. Only these properties are copied to the output. */
export interface ContactPii {
  id: string;
  /** User id of the owning sales rep, if any. */
  ownerUserId: string | null;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  notes: string | null;
  attributes: Readonly<Record<string, AttributeValue>>;
}

export interface MaskedContact extends ContactPii {
  /** Fields returned masked ('email', 'phone', 'attributes.<key>', …), e.g. to show a lock icon. */
  maskedFields: string[];
}

export interface ContactView {
  userId: string;
  role: Role;
  permissions?: Iterable<string>;
  /**
   * Custom attribute definitions of the workspace. Attributes not listed here,
   * or listed as sensitive, are treated as sensitive (fail closed).
   */
  attributes?: readonly { key: string; sensitive: boolean }[];
}

export interface MaskResult {
  contact: MaskedContact;
  /** PII fields returned in clear with a non-null value (plain attributes excluded). */
  unmaskedFields: string[];
  /** True when PII was returned in clear for a contact the viewer does not own. */
  beyondOwnership: boolean;
  /** True when at least one field was clear only because of contacts:unmask. */
  usedUnmaskPermission: boolean;
}

// ---------------------------------------------------------------------------
// Formats

const DOTS = '•••';
const SECRET = '••••••';
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function firstGrapheme(s: string): string {
  for (const { segment } of segmenter.segment(s)) return segment;
  return '';
}

/** `ada@example.com` → `a•••@example.com` */
export function maskEmail(email: string): string {
  if (email === '') return '';
  const at = email.lastIndexOf('@');
  if (at <= 0) return `${firstGrapheme(email)}${DOTS}`;
  return `${firstGrapheme(email)}${DOTS}${email.slice(at)}`;
}

/** `+447700900123` → `+44 •••• ••0123`: country code and last 4 digits, fixed-width mask (hides length). */
export function maskPhone(phone: string): string {
  if (phone === '') return '';
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 8) return SECRET;
  const parsed = parsePhoneNumberFromString(phone.startsWith('+') ? phone : `+${digits}`);
  const prefix = parsed ? `+${parsed.countryCallingCode} ` : '';
  return `${prefix}•••• ••${digits.slice(-4)}`;
}

/** `Ada` → `A•••` */
export function maskName(name: string): string {
  return name === '' ? '' : `${firstGrapheme(name)}${DOTS}`;
}

/** Any value → `••••••` (type and length hidden). */
export function maskSecret(value: AttributeValue): string | null {
  return value === null ? null : SECRET;
}

// ---------------------------------------------------------------------------
// Mechanism

function hasUnmask(view: ContactView): boolean {
  if (!view.permissions) return false;
  for (const p of view.permissions) if (p === UNMASK_PERMISSION) return true;
  return false;
}

export type Masker = (contact: ContactPii) => MaskResult;

/** Precompute a view's rules once, then mask many contacts (list endpoints, exports). */
export function createMasker(view: ContactView): Masker {
  const rules = MASKING_MATRIX[view.role];
  if (!rules) throw new TypeError(`unknown role ${String(view.role)}`);
  const unmask = hasUnmask(view);
  const plain = new Set((view.attributes ?? []).filter((a) => !a.sensitive).map((a) => a.key));

  return (contact) => {
    const owned = contact.ownerUserId !== null && contact.ownerUserId === view.userId;
    const unmaskedFields: string[] = [];
    const maskedFields: string[] = [];
    let usedUnmaskPermission = false;

    // Decide clear vs masked for one field; record what the caller must audit.
    const clear = (field: MaskField, name: string, value: AttributeValue): boolean => {
      if (value === null) return true; // nothing to reveal; absence is not masked
      const r = rules[field];
      let show: boolean;
      let viaPermission = false;
      if (r === 'full') show = true;
      else if (r === 'masked') show = false;
      else if (r === 'owner' && owned) show = true;
      else {
        // 'unmask', or 'owner' on a contact the viewer does not own
        show = unmask;
        viaPermission = unmask;
      }
      if (show) {
        if (field !== 'plainAttribute') unmaskedFields.push(name);
        if (viaPermission) usedUnmaskPermission = true;
      } else {
        maskedFields.push(name);
      }
      return show;
    };

    const attributes: Record<string, AttributeValue> = {};
    for (const [key, value] of Object.entries(contact.attributes)) {
      const field: MaskField = plain.has(key) ? 'plainAttribute' : 'sensitiveAttribute';
      attributes[key] = clear(field, `attributes.${key}`, value) ? value : maskSecret(value);
    }
    const masked: MaskedContact = {
      id: contact.id,
      ownerUserId: contact.ownerUserId,
      email: pick(contact.email, clear('email', 'email', contact.email), maskEmail),
      firstName: pick(contact.firstName, clear('firstName', 'firstName', contact.firstName), maskName),
      lastName: pick(contact.lastName, clear('lastName', 'lastName', contact.lastName), maskName),
      phone: pick(contact.phone, clear('phone', 'phone', contact.phone), maskPhone),
      notes: pick(contact.notes, clear('notes', 'notes', contact.notes), () => SECRET),
      attributes,
      maskedFields,
    };
    return {
      contact: masked,
      unmaskedFields,
      beyondOwnership: !owned && unmaskedFields.length > 0,
      usedUnmaskPermission,
    };
  };
}

function pick(value: string | null, show: boolean, mask: (v: string) => string): string | null {
  if (value === null) return null;
  return show ? value : mask(value);
}

/** Mask one contact for a viewer. */
export function maskContact(view: ContactView, contact: ContactPii): MaskResult {
  return createMasker(view)(contact);
}

export interface MaskBatchResult {
  contacts: MaskedContact[];
  /** Union of the unmasked field names over the batch. */
  unmaskedFields: string[];
  /** Ids of contacts whose PII was shown beyond ownership: one audit entry per request can list them. */
  beyondOwnershipIds: string[];
  usedUnmaskPermission: boolean;
}

/** Mask a list and aggregate what the caller needs for a single audit entry. */
export function maskContacts(view: ContactView, contacts: readonly ContactPii[]): MaskBatchResult {
  const masker = createMasker(view);
  const fields = new Set<string>();
  const beyondOwnershipIds: string[] = [];
  let usedUnmaskPermission = false;
  const out = contacts.map((c) => {
    const r = masker(c);
    for (const f of r.unmaskedFields) fields.add(f);
    if (r.beyondOwnership) beyondOwnershipIds.push(c.id);
    usedUnmaskPermission ||= r.usedUnmaskPermission;
    return r.contact;
  });
  return { contacts: out, unmaskedFields: [...fields].sort(), beyondOwnershipIds, usedUnmaskPermission };
}
