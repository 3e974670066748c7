// Canonical forms for contact fields. Blind indexes are computed over these
// forms, so they must be deterministic: the same person always normalises to
// the same string, or exact-match search silently misses them.
import { domainToASCII } from 'node:url';
import {
  type CountryCode,
  isSupportedCountry,
  parsePhoneNumberWithError,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max';

export type Normalised<T, R extends string> = { ok: true; value: T } | { ok: false; reason: R };

const ok = <T>(value: T) => ({ ok: true as const, value });
const fail = <R extends string>(reason: R) => ({ ok: false as const, reason });

// ---------------------------------------------------------------------------
// Email

export type EmailErrorReason =
  | 'empty'
  | 'missing_at'
  | 'too_long'
  | 'invalid_local_part'
  | 'non_ascii_local_part'
  | 'invalid_domain';

// RFC 5322 dot-atom (atext), lower-case only since we lower-case first. Quoted
// local parts and comments are deliberately not accepted.
const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
// LDH label (RFC 1035/5890), 1–63 chars, no leading/trailing hyphen.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// Top-level domain: letters, or an IDN A-label (xn--…). Rejects IP literals and numeric TLDs.
const TLD = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/** The ASCII (punycode) form of an email's domain, or null when it is not a valid mail domain. */
function checkDomain(domain: string): string | null {
  // WHATWG/UTS #46 processing: maps case and full-width forms, converts U-labels
  // to punycode, returns '' for anything that is not a valid host.
  const ascii = /[\s/\\?#[\]@:%]/.test(domain) ? '' : domainToASCII(domain);
  if (!ascii || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !TLD.test(labels[labels.length - 1])) return null;
  return ascii;
}

// Domains repeat (a few webmail domains hold most of any list): an import checks each one once, not per row.
const DOMAIN_CACHE_SIZE = 10_000;
const domains = new Map<string, string | null>();
function asciiDomain(domain: string): string | null {
  let ascii = domains.get(domain);
  if (ascii === undefined) {
    ascii = checkDomain(domain);
    if (domains.size >= DOMAIN_CACHE_SIZE) domains.clear();
    domains.set(domain, ascii);
  }
  return ascii;
}

/**
 * Canonical email: NFC, trimmed, lower-cased, IDN domain converted to its
 * ASCII (punycode) form. Accepts dot-atom local parts of ASCII characters only
 * (SMTPUTF8 mailboxes are rejected with `non_ascii_local_part`), and DNS
 * domains with at least two labels and an alphabetic or IDN TLD.
 *
 * The local part is lower-cased although RFC 5321 allows case-sensitive
 * mailboxes: no mainstream provider uses that, and a case-sensitive index would
 * split one person into several contacts. Sub-addressing (+tag) and Gmail dots
 * are kept: they are distinct addresses as far as delivery and consent go.
 */
export function normaliseEmail(raw: string): Normalised<string, EmailErrorReason> {
  if (typeof raw !== 'string') return fail('empty');
  const s = raw.normalize('NFC').trim();
  if (s === '') return fail('empty');
  if (s.length > 320) return fail('too_long');
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return fail('missing_at');
  const local = s.slice(0, at).toLowerCase();
  let domain = s.slice(at + 1);
  if (/[^\x20-\x7e]/.test(local)) return fail('non_ascii_local_part');
  if (local.length > 64 || !LOCAL_PART.test(local)) return fail('invalid_local_part');
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  const ascii = asciiDomain(domain);
  if (ascii === null) return fail('invalid_domain');
  const email = `${local}@${ascii}`;
  if (email.length > 254) return fail('too_long');
  return ok(email);
}

/** Domain part of a normalised email (ASCII / punycode form). */
export function emailDomain(normalisedEmail: string): string {
  const at = normalisedEmail.lastIndexOf('@');
  if (at <= 0 || at === normalisedEmail.length - 1) throw new TypeError('not a normalised email address');
  return normalisedEmail.slice(at + 1);
}

// ---------------------------------------------------------------------------
// Phone

export type PhoneErrorReason =
  | 'empty'
  | 'not_a_number'
  | 'no_country'
  | 'too_short'
  | 'too_long'
  | 'invalid_length'
  | 'invalid_number';

export interface PhoneOptions {
  /**
   * 'valid' (default): the number must be in an allocated range for its country
   * (libphonenumber "max" metadata). 'possible': only its length must fit the
   * country, for data where metadata may lag behind new allocations.
   */
  validity?: 'valid' | 'possible';
}

/**
 * E.164 form (`+442079460958`) of a phone number. National numbers need
 * `defaultCountry` (ISO alpha-2; ignored when unknown to libphonenumber).
 * The whole input must be a phone number (no extraction from surrounding
 * text). Extensions are dropped: E.164 has none.
 */
export function normalisePhone(
  raw: string,
  defaultCountry?: string | null,
  options: PhoneOptions = {},
): Normalised<string, PhoneErrorReason> {
  if (typeof raw !== 'string' || raw.trim() === '') return fail('empty');
  const country = defaultCountry?.toUpperCase();
  const parseOptions = {
    extract: false,
    defaultCountry: country && isSupportedCountry(country) ? (country as CountryCode) : undefined,
  };
  let phone: ReturnType<typeof parsePhoneNumberWithError>;
  try {
    phone = parsePhoneNumberWithError(raw.trim(), parseOptions);
  } catch (err) {
    switch ((err as Error).message) {
      case 'INVALID_COUNTRY':
        return fail('no_country');
      case 'TOO_SHORT':
        return fail('too_short');
      case 'TOO_LONG':
        return fail('too_long');
      default:
        return fail('not_a_number');
    }
  }
  if (!phone.isPossible()) {
    // Distinguish the length problems, which are the common import mistakes.
    const length = validatePhoneNumberLength(raw.trim(), parseOptions);
    if (length === 'TOO_SHORT') return fail('too_short');
    if (length === 'TOO_LONG') return fail('too_long');
    return fail('invalid_length');
  }
  if ((options.validity ?? 'valid') === 'valid' && !phone.isValid()) return fail('invalid_number');
  return ok(phone.number);
}

// ---------------------------------------------------------------------------
// Country (ISO 3166-1 alpha-2)

// All 249 officially assigned ISO 3166-1 alpha-2 codes, plus XK (Kosovo), a
// user-assigned code used by the EU, CLDR and libphonenumber.
const COUNTRY_CODES = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY ' +
    'BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK ' +
    'FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR ' +
    'IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ' +
    'ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM ' +
    'PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF ' +
    'TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK'
  ).split(' '),
);

export function isCountryCode(code: string): boolean {
  return COUNTRY_CODES.has(code);
}

/** Upper-cased ISO 3166-1 alpha-2 code. 'UK' (a common spreadsheet value) is mapped to 'GB'. */
export function normaliseCountry(raw: string): Normalised<string, 'empty' | 'invalid_country'> {
  if (typeof raw !== 'string' || raw.trim() === '') return fail('empty');
  let code = raw.trim().toUpperCase();
  if (code === 'UK') code = 'GB';
  return COUNTRY_CODES.has(code) ? ok(code) : fail('invalid_country');
}

// ---------------------------------------------------------------------------
// Time zone (IANA)

let canonicalZones: Map<string, string> | undefined;

function zones(): Map<string, string> {
  if (!canonicalZones) {
    canonicalZones = new Map();
    for (const z of [...Intl.supportedValuesOf('timeZone'), 'UTC']) canonicalZones.set(z.toLowerCase(), z);
  }
  return canonicalZones;
}

/** True for a canonical IANA zone from `Intl.supportedValuesOf('timeZone')`, 'UTC', or an alias Intl accepts. */
export function isValidTimeZone(tz: string): boolean {
  return normaliseTimeZone(tz).ok;
}

/**
 * Validate an IANA time zone. Canonical names (Intl.supportedValuesOf) are
 * matched case-insensitively and returned in canonical case; aliases Intl
 * recognises (Asia/Kolkata, US/Eastern, Etc/GMT+5) are kept as given; 'UTC',
 * 'Etc/UTC' and 'GMT' become 'UTC'. Offsets like '+02:00' are rejected: they
 * are not zones and have no DST rules.
 */
export function normaliseTimeZone(raw: string): Normalised<string, 'empty' | 'invalid_time_zone'> {
  if (typeof raw !== 'string' || raw.trim() === '') return fail('empty');
  const tz = raw.trim();
  const canonical = zones().get(tz.toLowerCase());
  if (canonical) return ok(canonical);
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(tz)) return fail('invalid_time_zone');
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    return ok(resolved === 'UTC' ? 'UTC' : tz);
  } catch {
    return fail('invalid_time_zone');
  }
}
