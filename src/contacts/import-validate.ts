// Contact-import row validation and normalisation (shared by CSV and JSON
// Lines): one source row's cells → a ValidRow, or the reasons it is rejected.
import type { Plan } from './import-mapping.ts';
import {
  type AttributeDefinition,
  type AttributeValue,
  CORE_FIELDS,
  type CoreField,
  type ImportOptions,
  type ValidRow,
} from './import-types.ts';
import { emailDomain, normaliseCountry, normaliseEmail, normalisePhone, normaliseTimeZone } from './normalize.ts';

const NAME_MAX = 200;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0']);

export type Cell = string | number | boolean | null | undefined | object;

/** A parsed value, or a human-readable error (never containing the value itself). */
type Parsed<T> = { value: T } | { error: string };

function asText(cell: Cell, max: number): Parsed<string | null> {
  if (cell === null || cell === undefined) return { value: null };
  if (typeof cell === 'object') return { error: 'expected a text value, got an object or array' };
  const s = String(cell).trim();
  if (s === '') return { value: null };
  if (s.includes('\uFFFD')) return { error: 'invalid UTF-8 (save the file as UTF-8)' };
  if (s.includes('\u0000')) return { error: 'contains a NUL character' };
  if (s.length > max) return { error: `longer than ${max} characters` };
  return { value: s };
}

function parseDate(s: string): string | null {
  const m = DATE.exec(s);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const t = new Date(Date.UTC(y, mo - 1, d));
    return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d ? s : null;
  }
  if (DATETIME.test(s)) {
    const t = Date.parse(s);
    if (Number.isFinite(t)) {
      // Reject rolled-over components like 2025-02-30T… that Date.parse would accept.
      const datePart = s.slice(0, 10);
      if (parseDate(datePart) === null) return null;
      return new Date(t).toISOString();
    }
  }
  return null;
}

function attributeValue(
  def: AttributeDefinition,
  cell: Cell,
  maxText: number,
): Parsed<AttributeValue | null> {
  if (def.type === 'number' && typeof cell === 'number') {
    return Number.isFinite(cell) ? { value: cell } : { error: 'expected a number' };
  }
  if (def.type === 'boolean' && typeof cell === 'boolean') return { value: cell };
  const text = asText(cell, maxText);
  if ('error' in text || text.value === null) return text;
  const s = text.value;
  switch (def.type) {
    case 'text':
      return text;
    case 'number': {
      const n = Number(s);
      return NUMBER.test(s) && Number.isFinite(n) ? { value: n } : { error: 'expected a number like 1234.5' };
    }
    case 'boolean': {
      const v = s.toLowerCase();
      if (TRUE.has(v)) return { value: true };
      if (FALSE.has(v)) return { value: false };
      return { error: 'expected true/false, yes/no or 1/0' };
    }
    case 'date': {
      const d = parseDate(s);
      return d ? { value: d } : { error: 'expected a date as YYYY-MM-DD (or an ISO 8601 timestamp)' };
    }
    case 'enum': {
      const options = def.options ?? [];
      if (options.includes(s)) return { value: s };
      const folded = options.filter((o) => o.toLowerCase() === s.toLowerCase());
      if (folded.length === 1) return { value: folded[0] };
      // The value itself is not echoed: reasons may end up in logs, values are PII.
      return { error: `unknown value (allowed: ${options.join(', ')})` };
    }
  }
}

export function validateRow(
  plan: Plan,
  options: ImportOptions,
  line: number,
  values: Record<string, Cell>,
): ValidRow | string {
  const errors: string[] = [];
  const attributeErrors: string[] = [];
  const core: Partial<Record<CoreField, string | null>> = {};
  const rawCore: Partial<Record<CoreField, Cell>> = {};
  const attributes: Record<string, AttributeValue> = {};
  const maxText = options.maxTextLength ?? 10_000;

  for (const [column, target] of plan.columns) {
    const cell = values[column];
    if (target.kind === 'core') {
      rawCore[target.field] = cell;
      continue;
    }
    const r = attributeValue(target.def, cell, maxText);
    if ('error' in r) attributeErrors.push(`${target.def.key}: ${r.error}`);
    else if (r.value === null) {
      if (target.def.required) attributeErrors.push(`${target.def.key}: required value missing`);
    } else attributes[target.def.key] = r.value;
  }

  // Text-level checks first (encoding, length), then field semantics.
  for (const field of CORE_FIELDS) {
    if (!(field in rawCore)) {
      core[field] = null;
      continue;
    }
    const max = field === 'notes' ? maxText : NAME_MAX;
    const t = asText(rawCore[field], max);
    if ('error' in t) {
      errors.push(`${field}: ${t.error}`);
      core[field] = null;
      continue;
    }
    // Names are single-line: collapse internal whitespace (including line breaks).
    core[field] =
      field === 'firstName' || field === 'lastName' ? (t.value?.replace(/\s+/g, ' ') ?? null) : t.value;
    if (t.value === null && plan.requiredCore.has(field)) errors.push(`${field}: required value missing`);
  }

  let email: string | null = null;
  if (core.email) {
    const e = normaliseEmail(core.email);
    if (e.ok) email = e.value;
    else errors.push(`email: invalid email address (${e.reason})`);
  }
  let country: string | null = null;
  if (core.country) {
    const c = normaliseCountry(core.country);
    if (c.ok) country = c.value;
    else errors.push('country: not an ISO 3166-1 alpha-2 country code');
  }
  let phone: string | null = null;
  if (core.phone) {
    const p = normalisePhone(core.phone, country ?? options.defaultCountry, {
      validity: options.phoneValidity,
    });
    if (p.ok) phone = p.value;
    else errors.push(`phone: unparseable phone number (${p.reason})`);
  }
  let timeZone: string | null = null;
  if (core.timeZone) {
    const z = normaliseTimeZone(core.timeZone);
    if (z.ok) timeZone = z.value;
    else errors.push('timeZone: not an IANA time zone (e.g. Europe/Paris)');
  }

  errors.push(...attributeErrors);
  if (errors.length > 0 || email === null) return errors.join('; ') || 'email: required value missing';
  return {
    line,
    email,
    emailDomain: emailDomain(email),
    firstName: core.firstName ?? null,
    lastName: core.lastName ?? null,
    phone,
    country,
    timeZone,
    notes: core.notes ?? null,
    attributes,
  };
}
