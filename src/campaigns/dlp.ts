// Outbound data-loss scan: subject, body (HTML and text) and attachments are
// searched for payment card numbers (Luhn-checked, known card prefixes),
// IBANs (mod-97 and country length), US SSNs, API keys and secrets (common
// provider formats) and workspace-defined patterns. A hit blocks a launch; each
// finding names where it is (part, line, column) and shows the match masked —
// the scanner never echoes a full secret back.

export type DlpKind = 'payment_card' | 'iban' | 'us_ssn' | 'secret' | 'custom';

export type DlpPart = {
  /** 'subject', 'html', 'text', or `attachment:<filename>`. */
  location: string;
  text: string;
};

export type DlpAttachment = { filename: string; contentType: string; content: Buffer };

export type DlpFinding = {
  kind: DlpKind;
  /** Pattern name (e.g. 'Visa', 'AWS access key id', a workspace pattern's name). */
  name: string;
  location: string;
  line: number;
  column: number;
  /** Offset in the part's text. */
  offset: number;
  /** The match, masked. */
  preview: string;
};

export type WorkspacePattern = { name: string; pattern: string; flags?: string };

// ---------------------------------------------------------------------------
// Checks

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Card network by IIN prefix and length, or null when no network issues such a number. */
export function cardNetwork(digits: string): string | null {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if (digits[0] === '4' && (n === 13 || n === 16 || n === 19)) return 'Visa';
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n === 16) return 'Mastercard';
  if ((p2 === 34 || p2 === 37) && n === 15) return 'American Express';
  if ((p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) && n >= 16 && n <= 19) return 'Discover';
  if ((p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305) || p4 === 3095) && n >= 14 && n <= 19) return 'Diners Club';
  if (p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19) return 'JCB';
  if (p2 === 62 && n >= 16 && n <= 19) return 'UnionPay';
  if ((p4 === 5018 || p4 === 5020 || p4 === 5038 || p4 === 5893 || p4 === 6304 || p4 === 6759 || p4 === 6761 || p4 === 6762 || p4 === 6763) && n >= 12 && n <= 19)
    return 'Maestro';
  return null;
}

/** IBAN lengths by country (ISO 13616 registry, common countries). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21, CR: 22, CY: 28, CZ: 24,
  DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27,
  GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LI: 21, LT: 20, LU: 20,
  LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25,
  QA: 29, RO: 24, RS: 22, SA: 24, SE: 24, SI: 19, SK: 24, SM: 27, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
};

export function ibanValid(raw: string): boolean {
  const iban = raw.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const expected = IBAN_LENGTHS[iban.slice(0, 2)];
  if (expected !== undefined ? iban.length !== expected : iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const v = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of v) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

export function ssnValid(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  if (a === 0 || a === 666 || a >= 900) return false;
  if (group === '00' || serial === '0000') return false;
  return true;
}

// ---------------------------------------------------------------------------
// Patterns

type Detector = { kind: DlpKind; name: string; re: RegExp; check?: (m: RegExpExecArray) => string | false | null };

/** Provider secret formats (prefixes are public documentation of each provider). */
const SECRET_PATTERNS: [string, RegExp][] = [
  ['AWS access key id', /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g],
  ['AWS secret access key', /\baws_?secret_?access_?key\b["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}\b/gi],
  ['GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b/g],
  ['GitLab token', /\bglpat-[A-Za-z0-9_-]{20,}\b/g],
  ['Slack token', /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g],
  ['Slack webhook', /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{20,}/g],
  ['Stripe secret key', /\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}\b/g],
  ['Google API key', /\bAIza[0-9A-Za-z_-]{35}\b/g],
  ['OpenAI API key', /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}\b|\bsk-proj-[A-Za-z0-9_-]{40,}\b/g],
  ['Anthropic API key', /\bsk-ant-[A-Za-z0-9_-]{30,}\b/g],
  ['SendGrid API key', /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b/g],
  ['Twilio API key', /\bSK[0-9a-f]{32}\b/g],
  ['Mailgun API key', /\bkey-[0-9a-f]{32}\b/g],
  ['npm token', /\bnpm_[A-Za-z0-9]{36}\b/g],
  ['mailwarden API key', /\bmwk_[A-Za-z0-9_-]{20,}\b/g],
  ['Private key', /-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----/g],
  ['JSON web token', /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b/g],
  ['Password or secret assignment', /\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret)\b["']?\s*[:=]\s*["']?[^\s"'<>]{8,}/gi],
];

const DETECTORS: Detector[] = [
  {
    kind: 'payment_card',
    name: 'Payment card',
    // 12–19 digits, optionally grouped by single spaces or dashes; not part of a longer number.
    re: /(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d])/g,
    check: (m) => {
      const digits = m[0].replace(/[ -]/g, '');
      if (!luhnValid(digits)) return false;
      return cardNetwork(digits) ?? false;
    },
  },
  {
    kind: 'iban',
    name: 'IBAN',
    re: /\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b/g,
    check: (m) => (ibanValid(m[0]) ? `IBAN (${m[0].slice(0, 2)})` : false),
  },
  {
    kind: 'us_ssn',
    name: 'US Social Security number',
    re: /(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])/g,
    check: (m) => ssnValid(m[1], m[2], m[3]) && null,
  },
  {
    kind: 'us_ssn',
    name: 'US Social Security number',
    // Undashed: only next to a label, nine bare digits are too common otherwise.
    re: /\b(?:SSN|social security(?: number| no\.?)?)\s*(?:#|:|is)?\s*(\d{3})[ ]?(\d{2})[ ]?(\d{4})\b/gi,
    check: (m) => ssnValid(m[1], m[2], m[3]) && null,
  },
  ...SECRET_PATTERNS.map(([name, re]): Detector => ({ kind: 'secret', name, re })),
];

// ---------------------------------------------------------------------------
// Workspace patterns

export class PatternError extends Error {}

/**
 * Compile a workspace-defined pattern. Patterns are length-limited and nested
 * quantifiers (catastrophic backtracking, e.g. `(a+)+`) are refused.
 */
export function compileWorkspacePattern(p: WorkspacePattern): RegExp {
  if (p.pattern.length === 0 || p.pattern.length > 300) throw new PatternError(`pattern "${p.name}" must be 1–300 characters`);
  if (/\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]/.test(p.pattern)) throw new PatternError(`pattern "${p.name}" nests quantifiers (risk of catastrophic backtracking)`);
  const flags = [...new Set(`${(p.flags ?? 'i').replace(/[^imsu]/g, '')}g`)].join('');
  try {
    return new RegExp(p.pattern, flags);
  } catch (err) {
    throw new PatternError(`pattern "${p.name}" is not a valid regular expression: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// Scan

export function maskMatch(s: string): string {
  const compact = s.replace(/\s+/g, ' ');
  if (compact.length <= 8) return '•'.repeat(compact.length);
  return `${compact.slice(0, 4)}${'•'.repeat(Math.min(compact.length - 8, 12))}${compact.slice(-4)}`;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i;
  }
  return { line, column: offset - last };
}

/** Text a scanner can read from an attachment: text types as UTF-8, otherwise printable runs (like `strings`). */
export function attachmentText(a: DlpAttachment): string {
  const type = a.contentType.toLowerCase();
  if (type.startsWith('text/') || /json|xml|csv|javascript|yaml|x-sh/.test(type)) return a.content.toString('utf8');
  const runs = a.content.toString('latin1').match(/[\x20-\x7e\t\r\n]{6,}/g);
  return runs ? runs.join('\n') : '';
}

/** Decode HTML character references so `4111&#32;1111…` cannot hide a number from the scan. */
function decodeEntities(s: string): string {
  return s
    .replace(/&#(\d{1,7});/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]{1,6});/gi, (_, h) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

export type ScanInput = {
  subject: string;
  html?: string | null;
  text?: string | null;
  attachments?: readonly DlpAttachment[];
  patterns?: readonly WorkspacePattern[];
};

export function scanParts(parts: readonly DlpPart[], patterns: readonly WorkspacePattern[] = []): DlpFinding[] {
  const detectors: Detector[] = [...DETECTORS, ...patterns.map((p): Detector => ({ kind: 'custom', name: p.name, re: compileWorkspacePattern(p) }))];
  const findings: DlpFinding[] = [];
  for (const part of parts) {
    const text = part.location === 'html' ? decodeEntities(part.text) : part.text;
    const seen = new Set<string>();
    for (const d of detectors) {
      d.re.lastIndex = 0;
      for (let m = d.re.exec(text); m !== null; m = d.re.exec(text)) {
        if (m[0].length === 0) {
          d.re.lastIndex++;
          continue;
        }
        let name = d.name;
        if (d.check) {
          const r = d.check(m);
          if (r === false) continue;
          if (typeof r === 'string') name = r;
        }
        const key = `${d.kind}:${m.index}`;
        if (seen.has(key)) continue;
        seen.add(key);
        findings.push({ kind: d.kind, name, location: part.location, ...lineAndColumn(text, m.index), offset: m.index, preview: maskMatch(m[0]) });
      }
    }
  }
  return findings.sort((a, b) => (a.location === b.location ? a.offset - b.offset : 0));
}

/** Scan a message: subject, HTML, text and attachments. */
export function scanMessage(input: ScanInput): DlpFinding[] {
  const parts: DlpPart[] = [{ location: 'subject', text: input.subject }];
  if (input.html) parts.push({ location: 'html', text: input.html });
  if (input.text) parts.push({ location: 'text', text: input.text });
  for (const a of input.attachments ?? []) parts.push({ location: `attachment:${a.filename}`, text: attachmentText(a) });
  return scanParts(parts, input.patterns);
}

export function describeFinding(f: DlpFinding): string {
  return `${f.name} in ${f.location} at line ${f.line}, column ${f.column} (${f.preview})`;
}
