// Validation and normalisation of contact input (API, console, single writes):
// the plaintext that service.ts then encrypts. Throws 422 problems.
import { fieldError } from '../http/problem.ts';
import type { AttributeValue } from './masking.ts';
import { normaliseCountry, normaliseEmail, normalisePhone, normaliseTimeZone } from './normalize.ts';
import type { AttributeDef, Contact, ContactFields } from './service.ts';

export interface ContactInput {
  email?: string;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  notes?: string | null;
  attributes?: Record<string, unknown>;
  jobTitle?: string | null;
  country?: string | null;
  timeZone?: string | null;
  companyId?: number | null;
  ownerUserId?: number | null;
  tags?: string[];
}

export function coerceAttribute(def: AttributeDef, value: unknown): AttributeValue {
  const bad = (m: string) => fieldError(`attributes.${def.key}`, m);
  if (value === null) return null;
  switch (def.type) {
    case 'text':
      if (typeof value !== 'string') throw bad('must be text');
      if (value.length > 10_000) throw bad('is longer than 10000 characters');
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('must be a number');
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw bad('must be true or false');
      return value;
    case 'date':
      if (
        typeof value !== 'string' ||
        !/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value) ||
        Number.isNaN(Date.parse(value))
      )
        throw bad('must be a date (YYYY-MM-DD)');
      return value;
    case 'enum':
      if (typeof value !== 'string' || !def.options.includes(value))
        throw bad(`must be one of ${def.options.join(', ')}`);
      return value;
  }
}

/** Validate and normalise input (merged over `base` for updates). Throws 422 problems. */
export function normaliseContactInput(
  input: ContactInput,
  defs: readonly AttributeDef[],
  base?: Contact,
): ContactFields {
  const pick = <K extends keyof ContactInput>(k: K, fallback: unknown) =>
    input[k] === undefined ? fallback : input[k];
  const rawEmail = pick('email', base?.email) as string | undefined;
  if (!rawEmail) throw fieldError('email', 'is required');
  const e = normaliseEmail(rawEmail);
  if (!e.ok) throw fieldError('email', `is not a valid email address (${e.reason})`);
  const country = pick('country', base?.country) as string | null | undefined;
  let countryCode: string | null = null;
  if (country) {
    const c = normaliseCountry(country);
    if (!c.ok) throw fieldError('country', 'must be an ISO 3166-1 alpha-2 code');
    countryCode = c.value;
  }
  const phone = pick('phone', base?.phone) as string | null | undefined;
  let e164: string | null = null;
  if (phone) {
    const p = normalisePhone(phone, countryCode);
    if (!p.ok) throw fieldError('phone', `is not a valid phone number (${p.reason})`);
    e164 = p.value;
  }
  const tz = pick('timeZone', base?.timeZone) as string | null | undefined;
  let zone: string | null = null;
  if (tz) {
    const z = normaliseTimeZone(tz);
    if (!z.ok) throw fieldError('timeZone', 'must be an IANA time zone such as Europe/Paris');
    zone = z.value;
  }
  const attributes: Record<string, AttributeValue> = { ...(base?.attributes ?? {}) };
  const byKey = new Map(defs.map((d) => [d.key, d]));
  for (const [k, v] of Object.entries(input.attributes ?? {})) {
    const def = byKey.get(k);
    if (!def) throw fieldError(`attributes.${k}`, 'is not a defined attribute');
    const value = coerceAttribute(def, v);
    if (value === null) delete attributes[k];
    else attributes[k] = value;
  }
  const text = (k: 'firstName' | 'lastName' | 'notes' | 'jobTitle', max: number) => {
    const v = pick(k, base?.[k] ?? null) as string | null;
    const t = v === null ? null : v.trim() || null;
    if (t && t.length > max) throw fieldError(k, `is longer than ${max} characters`);
    return t;
  };
  const tags = [
    ...new Set(((pick('tags', base?.tags ?? []) as string[]) ?? []).map((t) => t.trim()).filter(Boolean)),
  ];
  return {
    email: e.value,
    firstName: text('firstName', 200),
    lastName: text('lastName', 200),
    phone: e164,
    notes: text('notes', 10_000),
    attributes,
    jobTitle: text('jobTitle', 200),
    country: countryCode,
    timeZone: zone,
    companyId: pick('companyId', base?.companyId ?? null) as number | null,
    ownerUserId: pick('ownerUserId', base?.ownerUserId ?? null) as number | null,
    tags,
  };
}
